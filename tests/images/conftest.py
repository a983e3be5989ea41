"""The images every module in tests/images runs: built once per test session from this checkout."""

from __future__ import annotations

import pytest

from tests.images import podman as pm
from tests.serverproc import REPO

SERVER, LAMBDA = "localhost/ovserve:test", "localhost/ovserve-lambda:test"


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Both images (the base stand-in first, when podman's storage lacks it); a machine that cannot build fails here."""
    try:
        pm.ensure_tools()
        pm.ensure_base_image()
        pm.build(REPO / "Dockerfile", SERVER, REPO)
        pm.build(REPO / "Dockerfile.lambda", LAMBDA, REPO)
    except pm.PodmanUnavailable as exc:
        pytest.fail(f"cannot build the images on this machine: {exc}")
    return {"server": SERVER, "lambda": LAMBDA}
