"""Finding a model's ``code/inference.py`` the way AWS's containers do, and saying so when it is misplaced.

SageMaker extracts ``model.tar.gz`` into ``/opt/ml/model`` (a multi-model
endpoint: ``/opt/ml/models/<name>/model``); a script is ``code/inference.py``
beside the version folders (``SAGEMAKER_PROGRAM`` renames it, and
``SAGEMAKER_SUBMIT_DIRECTORY`` may name the folder). ``code/lib`` holds
modules shipped with it, ``code/requirements.txt`` packages to install. A
multi-model endpoint may also have one universal script for every model
(``/opt/ml/models/code`` or ``/opt/ml/code``); a model's own script wins over it.

"My inference.py is not picked up" is the most common complaint about AWS's
container, nearly always a tarball packed one folder too deep or with the
script at its top. Those places are checked too, and a warning names the file
found and where it belongs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .settings import ScriptSettings


@dataclass(frozen=True)
class CodeFolder:
    """A script and what ships with it."""

    folder: Path  # code/
    script: Path  # code/inference.py
    requirements: Path | None  # code/requirements.txt, when present
    lib: Path | None  # code/lib, when present

    @property
    def label(self) -> str:
        """How messages and logs name the script: its path."""
        return str(self.script)


def code_folder(folder: Path, program: str) -> CodeFolder | None:
    """``folder`` as a code folder holding ``program``, or None when the script is not there."""
    script = folder / program
    if not script.is_file():
        return None
    requirements = folder / "requirements.txt"
    lib = folder / "lib"
    return CodeFolder(folder, script, requirements if requirements.is_file() else None, lib if lib.is_dir() else None)


def for_model(model_dir: Path, settings: ScriptSettings, submit_directory: bool = True) -> CodeFolder | None:
    """The script of the model extracted at ``model_dir``: ``code/<program>``, or SAGEMAKER_SUBMIT_DIRECTORY's.

    ``submit_directory`` False ignores SAGEMAKER_SUBMIT_DIRECTORY (a multi-model
    endpoint's models each bring their own code/). A ``SAGEMAKER_PROGRAM`` that
    names a missing file stops start-up: the endpoint would otherwise serve
    without the script its owner configured.
    """
    folders = [model_dir / "code"]
    if submit_directory and settings.submit_directory is not None:
        folders.insert(0, settings.submit_directory)
    for folder in folders:
        found = code_folder(folder, settings.program)
        if found is not None:
            return found
    if settings.program_given and submit_directory:
        raise ConfigError(
            f"SAGEMAKER_PROGRAM: {settings.program!r} is not in {' or '.join(str(f) for f in folders)}; expected the "
            "script in model.tar.gz's code/ folder"
        )
    return None


def universal(settings: ScriptSettings) -> CodeFolder | None:
    """A multi-model endpoint's script for models without their own, or None."""
    for folder in settings.universal_dirs:
        found = code_folder(folder, settings.program)
        if found is not None:
            return found
    return None


def misplaced(model_dir: Path, program: str) -> list[Path]:
    """Scripts in the places a mis-packed tarball leaves them: at its top, or one folder too deep."""
    found: list[Path] = []
    top = model_dir / program
    if top.is_file():
        found.append(top)
    try:
        children = [child for child in model_dir.iterdir() if child.is_dir() and child.name != "code"]
    except OSError:
        return found
    for child in sorted(children)[:50]:
        for candidate in (child / "code" / program, child / program):
            if candidate.is_file():
                found.append(candidate)
    return found
