"""The Kubernetes manifests in deploy/kubernetes as kubectl renders them, and the parts of them tests look at.

``kubectl kustomize`` is whatever kubectl the machine has: ``make test`` installs Debian's ``kubernetes-client``
when there is none (kubectl 1.20, kustomize v2.0.3), and newer ones render the same objects.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.dockerfile_steps import instructions
from tests.serverproc import REPO

DEPLOY = REPO / "deploy" / "kubernetes"
# Every kustomization a user can deploy or build on, relative to deploy/kubernetes.
KUSTOMIZATIONS = ("base", "overlays/s3", "overlays/volume", "overlays/grpc-probes", "kserve")
SERVER_OVERLAYS = ("overlays/s3", "overlays/volume", "overlays/grpc-probes")


class KubectlMissing(RuntimeError):
    """No kubectl on PATH: ``make test`` installs Debian's kubernetes-client (apt-get install kubernetes-client)."""


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise KubectlMissing("kubectl is not installed; `make test` installs it (apt-get install kubernetes-client)")
    return found


def render(kustomization: str | Path) -> list[dict]:
    """The objects ``kubectl kustomize`` prints for a folder (relative to deploy/kubernetes, or absolute)."""
    folder = DEPLOY / kustomization
    done = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {kustomization} failed: {done.stderr[-2000:]}")
    return [item for item in yaml.safe_load_all(done.stdout) if item]


def only(objects: list[dict], kind: str) -> dict:
    """The one object of ``kind``."""
    found = [item for item in objects if item["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def server_container(deployment: dict) -> dict:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, "one container per pod: the server"
    return containers[0]


def container_env(container: dict) -> dict[str, str]:
    """Plain ``value`` variables (references to secrets or fields are not values a test can read)."""
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def container_port(container: dict, port: int | str) -> int:
    """A probe's or Service's port (a number or a container port's name) as the container port number."""
    if isinstance(port, int):
        return port
    named = {item.get("name"): item["containerPort"] for item in container.get("ports", [])}
    assert port in named, f"port {port!r} names no container port (ports: {sorted(p for p in named if p)})"
    return named[port]


def image_env(dockerfile: Path = REPO / "Dockerfile") -> dict[str, str]:
    """The environment the image sets (its ``ENV`` lines), e.g. where it keeps the compiled-model cache."""
    found: dict[str, str] = {}
    for step in instructions(dockerfile):
        if step.keyword == "ENV":
            for token in shlex.split(step.argument):
                key, _, value = token.partition("=")
                found[key] = value
    return found
