"""Where a platform-mounted model folder's models are, when no flag says.

SageMaker extracts ``model.tar.gz`` into ``/opt/ml/model``, and a Lambda image
bakes its model there too. The folder can hold an OVMS ``config.json``
(several models), numbered version folders, or bare model files; one model
is served under ``model`` unless ``--model_name`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEFAULT_DIR = "/opt/ml/model"
DEFAULT_NAME = "model"


def with_model_location(values: Mapping[str, str], default_dir: str = DEFAULT_DIR) -> dict[str, str]:
    """Flag values with ``config_path`` or ``model_name``/``model_path`` filled in from the model folder."""
    given = dict(values)
    if given.get("config_path") or (given.get("model_name") and given.get("model_path")):
        return given
    folder = given.get("model_path") or default_dir
    config = Path(folder) / "config.json"
    if "://" not in folder and config.is_file() and not given.get("model_name"):
        given.pop("model_path", None)
        return {**given, "config_path": str(config)}
    return {**given, "model_path": folder, "model_name": given.get("model_name") or DEFAULT_NAME}
