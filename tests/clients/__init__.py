"""Official clients run outside the test process.

tensorflow-serving-api needs all of TensorFlow and registers TensorFlow's own
protos; it runs with its own interpreter (``make test`` builds
``.venv-tfclient``; ``OVSERVE_TF_PYTHON`` may point elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.serverproc import REPO


def tf_python() -> str:
    """The interpreter that has tensorflow-serving-api installed; fails loudly when absent."""
    path = os.environ.get("OVSERVE_TF_PYTHON") or str(REPO / ".venv-tfclient" / "bin" / "python")
    assert Path(path).exists(), f"no TF Serving client interpreter at {path}: run `make test` (it builds .venv-tfclient)"
    return path


def v2_python() -> str:
    """The interpreter with the official KServe v2 clients (tritonclient, kserve); ``make .venv-v2clients/.installed``.

    Their generated modules pin protobuf < 7 and clash with each other in the default pool,
    so they run in a subprocess, never in the test process.
    """
    path = os.environ.get("OVSERVE_V2_PYTHON") or str(REPO / ".venv-v2clients" / "bin" / "python")
    assert Path(path).exists(), f"no v2 client interpreter at {path}: run `make .venv-v2clients/.installed`"
    return path
