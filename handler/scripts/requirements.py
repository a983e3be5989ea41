"""``code/requirements.txt``, installed at start-up with the running interpreter's pip.

AWS's container runs ``pip install -r`` into its own environment. Here the
image's root may be read-only (and ``/opt/ml/model`` is on SageMaker), so pip
installs with ``--target`` into a writable folder (``OVSERVE_SCRIPT_PACKAGES_DIR``,
by default under the system temp dir), named by a hash of the file and the
interpreter, and marked complete only once pip succeeded: a restarted server
in the same container reuses it instead of installing again.

That folder goes at the *end* of ``sys.path``: packages the image already has
(numpy, protobuf, grpcio…) keep the versions ovserve was built and tested
with, and a warning names any requirement that is shadowed that way. pip runs
in ``code/``, so a requirement such as ``./wheels/mypkg.whl`` resolves there:
a network-isolated endpoint ships wheels in ``code/`` (with ``--no-index
--find-links ./wheels`` at the top of the file) or its modules in
``code/lib``. pip's own variables (``PIP_INDEX_URL``, ``PIP_TIMEOUT``…) apply.
A failure stops start-up with pip's last lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path

from .discovery import CodeFolder
from .loading import ScriptError

log = logging.getLogger("ovserve.scripts")
MARKER = ".ovserve-installed"
_TAIL_LINES = 12


class PipFailed(ScriptError):
    """pip could not install the requirements; ``details`` is its whole output."""

    details_field = "pip_output"


def target_for(requirements: Path, packages_root: Path) -> Path:
    """Where this requirements file's packages go: one folder per file content and interpreter."""
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode() + sys.executable.encode()).hexdigest()[:16]
    return packages_root / digest


def _top_level_names(folder: Path) -> list[str]:
    names = []
    for entry in folder.iterdir():
        if entry.name.startswith((".", "_")) or entry.name.endswith((".dist-info", ".egg-info", ".data")) or entry.name == "bin":
            continue
        if entry.is_dir() or entry.suffix in (".py", ".so"):
            names.append(entry.name.split(".", 1)[0])
    return sorted(set(names))


def _shadowed(names: list[str]) -> list[str]:
    """The names the interpreter already imports from elsewhere (checked before the folder joins sys.path)."""
    found = []
    for name in names:
        try:
            if name in sys.modules or importlib.util.find_spec(name) is not None:
                found.append(name)
        except (ImportError, ValueError):
            continue
    return found


def _use(target: Path, code: CodeFolder, installed: bool) -> None:
    names = _top_level_names(target)
    shadowed = _shadowed(names)
    if str(target) not in sys.path:
        sys.path.append(str(target))
    log.info("requirements ready", extra={"requirements": str(code.requirements), "folder": str(target), "modules": names[:50],
                                          "reused": not installed})
    if shadowed:
        log.warning("requirements shadowed by the image's own packages: their image versions are imported",
                    extra={"requirements": str(code.requirements), "modules": shadowed[:50]})


def _pip_command(requirements: Path, scratch: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--no-warn-script-location",
            "--no-cache-dir", "--target", str(scratch), "-r", str(requirements)]


async def install(code: CodeFolder, packages_root: Path) -> Path:
    """Install ``code.requirements`` (unless an earlier start did) and put it on ``sys.path``; ScriptError when pip fails."""
    requirements = code.requirements
    assert requirements is not None
    target = target_for(requirements, packages_root)
    if (target / MARKER).is_file():
        _use(target, code, installed=False)
        return target
    shutil.rmtree(target, ignore_errors=True)  # an install cut short earlier: never marked, never used
    scratch = packages_root / f"{target.name}.part-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        scratch.mkdir(parents=True)
    except OSError as exc:
        raise ScriptError(f"{requirements}: cannot create {scratch} to install into ({exc.strerror}); set "
                          "OVSERVE_SCRIPT_PACKAGES_DIR to a writable folder") from None
    log.info("installing requirements", extra={"requirements": str(requirements), "folder": str(target)})
    env = {**os.environ, "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1"}
    process = await asyncio.create_subprocess_exec(*_pip_command(requirements, scratch), cwd=str(code.folder), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:  # a stop during the install: pip must not outlive the server
        if process.returncode is None:
            process.kill()
            await process.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    text = output.decode(errors="replace")
    if process.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        tail = [line for line in text.splitlines() if line.strip()][-_TAIL_LINES:]
        raise PipFailed(f"{requirements}: pip install failed with exit code {process.returncode}: " + " | ".join(tail), text)
    (scratch / MARKER).write_text(requirements.read_text(errors="replace"))
    try:
        os.replace(scratch, target)
    except OSError:  # another server in the container finished first: its folder is as good
        shutil.rmtree(scratch, ignore_errors=True)
    _use(target, code, installed=True)
    return target
