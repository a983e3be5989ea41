"""Real ``model.tar.gz`` archives with ``code/inference.py``, as users write them for AWS's TF Serving container.

``tarball`` packs version folders and code files the way ``tar -czf model.tar.gz 1 code`` does; ``extracted``
unpacks one where SageMaker would (``/opt/ml/model``, or ``/opt/ml/models/<name>/model``), which is all the
platform does with it before ``serve`` starts.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import textwrap
import time
from pathlib import Path

import httpx
import openvino as ov

from tests import models
from tests.sagemakerproc import SageMakerServer

# Every script test's loopback servers take free ports, so tests can run side by side.
LOOPBACK_ANY_PORT = {"OVSERVE_SCRIPT_REST_PORT": "0", "OVSERVE_SCRIPT_GRPC_PORT": "0"}


def tarball(path: Path, versions: dict[int, ov.Model] | None = None, code: dict[str, str] | None = None,
            config: dict[str, dict[int, ov.Model]] | None = None, extra: dict[str, str] | None = None) -> Path:
    """``path`` (a model.tar.gz) holding ``versions`` (or several models and a config.json), ``code/…`` and ``extra`` files.

    Code files are dedented, so tests can write them inline.
    """
    staging = path.with_name(path.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for version, model in (versions or {}).items():
        models.write_version(staging, version, model)
    if config:
        entries = []
        for name, model_versions in config.items():
            for version, model in model_versions.items():
                models.write_version(staging / name, version, model)
            entries.append({"config": {"name": name, "base_path": name, "plugin_config": models.F32,
                                       "model_version_policy": {"all": {}}}})
        (staging / "config.json").write_text(json.dumps({"model_config_list": entries}))
    for relative, text in {**{f"code/{k}": v for k, v in (code or {}).items()}, **(extra or {})}.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    with tarfile.open(path, "w:gz") as archive:
        for child in sorted(staging.iterdir()):
            archive.add(child, arcname=child.name)
    shutil.rmtree(staging)
    return path


def extracted(archive: Path, folder: Path) -> Path:
    """``archive`` unpacked into ``folder``, as SageMaker unpacks model.tar.gz before the container starts."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as opened:
        opened.extractall(folder, filter="data")
    return folder


def script_env(root: Path, **env: str) -> dict[str, str]:
    """The environment of a script test's ``serve``: free loopback ports and its own packages folder."""
    return {**LOOPBACK_ANY_PORT, "OVSERVE_SCRIPT_PACKAGES_DIR": str(root / "packages"), **env}


def started(root: Path, model_dir: Path | None, env: dict[str, str] | None = None, name: str = "serve") -> SageMakerServer:
    """``serve`` for the model SageMaker extracted into ``model_dir`` (None: a multi-model endpoint)."""
    full = script_env(root, **(env or {}))
    if model_dir is not None:
        full["OVSERVE_MODEL_PATH"] = str(model_dir)
    return SageMakerServer(full, root / f"{name}.log")


def wait_exit(server: SageMakerServer, timeout: float = 60) -> int:
    """The exit code of a ``serve`` expected to stop by itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return server.process.returncode
        try:
            server.client.get("/ping", timeout=1)
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"serve still running after {timeout}s: {server.read_log()}")


def log_lines(server: SageMakerServer) -> list[dict]:
    """The JSON log lines written so far (other lines, such as the final stderr message, are skipped)."""
    lines = []
    for line in server.log_path.read_text().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines
