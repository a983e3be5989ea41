"""Where scripts are looked for, the loopback ports they talk to, and how many run at once.

SageMaker configures containers through the environment only, so these are
environment variables: the platform's own (``SAGEMAKER_PROGRAM``,
``SAGEMAKER_SUBMIT_DIRECTORY``, ``SAGEMAKER_SAFE_PORT_RANGE``) and ovserve's
(``OVSERVE_SCRIPT_*``, ``OVSERVE_UNIVERSAL_CODE_DIR``). They are read once, at
start-up, and a bad value stops it with one line naming the variable.

The loopback ports default to AWS's TF Serving container's (REST 8501, gRPC
9000; with ``SAGEMAKER_SAFE_PORT_RANGE=lo-hi``, gRPC ``lo`` and REST
``lo + 1``), so a script that hard-codes ``localhost:8501`` keeps working; 0
asks the OS for a free port.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..settings.values import fail, parse_int

DEFAULT_PROGRAM = "inference.py"
# Where a multi-model endpoint's universal script lives: AWS's TF Serving container, then its Deep Learning Container.
UNIVERSAL_DIRS = (Path("/opt/ml/models/code"), Path("/opt/ml/code"))
TFS_REST_PORT, TFS_GRPC_PORT = 8501, 9000  # AWS's container without SAGEMAKER_SAFE_PORT_RANGE
DEFAULT_THREADS = 16


@dataclass(frozen=True)
class ScriptSettings:
    """What script discovery and the loopback servers need, validated."""

    program: str = DEFAULT_PROGRAM  # the script's file name inside code/
    program_given: bool = False  # SAGEMAKER_PROGRAM was set: a missing file is then an error, not "no script"
    submit_directory: Path | None = None  # SAGEMAKER_SUBMIT_DIRECTORY, when it is a local folder
    universal_dirs: tuple[Path, ...] = UNIVERSAL_DIRS
    rest_port: int = TFS_REST_PORT
    grpc_port: int = TFS_GRPC_PORT
    threads: int = DEFAULT_THREADS  # scripts running at once; the rest queue
    packages_dir: Path = Path(tempfile.gettempdir()) / "ovserve-script-packages"  # where requirements.txt installs


def _program(environ: Mapping[str, str]) -> tuple[str, bool]:
    given = (environ.get("SAGEMAKER_PROGRAM") or "").strip()
    if not given:
        return DEFAULT_PROGRAM, False
    name = given if given.endswith(".py") else f"{given}.py"
    if "/" in name or "\\" in name or name.startswith("."):
        raise fail("SAGEMAKER_PROGRAM", "a file name inside code/, such as inference.py", given)
    return name, True


def _submit_directory(environ: Mapping[str, str]) -> Path | None:
    given = (environ.get("SAGEMAKER_SUBMIT_DIRECTORY") or "").strip()
    if not given:
        return None
    if "://" in given:
        raise ConfigError(
            f"SAGEMAKER_SUBMIT_DIRECTORY: {given[:200]!r} is not a local folder; ovserve reads scripts from "
            "model.tar.gz's code/ folder: repack the code into it (the SageMaker SDK does when the model has an entry_point) "
            "and set SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code, or unset it"
        )
    folder = Path(given)
    return folder if folder.is_dir() else None  # the SDK's /opt/ml/model/code under a moved model: code/ is found anyway


def _ports(environ: Mapping[str, str]) -> tuple[int, int]:
    rest, grpc = TFS_REST_PORT, TFS_GRPC_PORT
    safe = (environ.get("SAGEMAKER_SAFE_PORT_RANGE") or "").strip()
    if safe:
        low, sep, high = safe.partition("-")
        if not (sep and low.strip().isdigit() and high.strip().isdigit() and 0 < int(low) < int(high) < 65536):
            raise fail("SAGEMAKER_SAFE_PORT_RANGE", "two ports as low-high, such as 9000-9999", safe)
        grpc, rest = int(low), int(low) + 1
    rest_text, grpc_text = environ.get("OVSERVE_SCRIPT_REST_PORT", ""), environ.get("OVSERVE_SCRIPT_GRPC_PORT", "")
    if rest_text.strip():
        rest = parse_int("OVSERVE_SCRIPT_REST_PORT", rest_text, minimum=0, maximum=65535)
    if grpc_text.strip():
        grpc = parse_int("OVSERVE_SCRIPT_GRPC_PORT", grpc_text, minimum=0, maximum=65535)
    if rest and rest == grpc:
        raise ConfigError(f"OVSERVE_SCRIPT_REST_PORT and OVSERVE_SCRIPT_GRPC_PORT: both are {rest}; expected two different ports")
    return rest, grpc


def load(environ: Mapping[str, str] | None = None) -> ScriptSettings:
    """The settings from ``environ`` (default: the process's); ConfigError names the variable at fault."""
    environ = os.environ if environ is None else environ
    program, given = _program(environ)
    universal = (environ.get("OVSERVE_UNIVERSAL_CODE_DIR") or "").strip()
    rest, grpc = _ports(environ)
    threads = environ.get("OVSERVE_SCRIPT_THREADS", "").strip()
    packages = (environ.get("OVSERVE_SCRIPT_PACKAGES_DIR") or "").strip()
    return ScriptSettings(
        program=program,
        program_given=given,
        submit_directory=_submit_directory(environ),
        universal_dirs=(Path(universal),) if universal else UNIVERSAL_DIRS,
        rest_port=rest,
        grpc_port=grpc,
        threads=parse_int("OVSERVE_SCRIPT_THREADS", threads, minimum=1, maximum=256) if threads else DEFAULT_THREADS,
        packages_dir=Path(packages) if packages else ScriptSettings.packages_dir,
    )
