"""``mapping_config.json``: client-facing aliases for a model's tensor names.

OVMS reads it from the version folder: ``{"inputs": {"tensor": "alias"},
"outputs": {"tensor": "alias"}}``. With it, clients use the aliases and the
original names are rejected, exactly like the original server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError

FILE_NAME = "mapping_config.json"


@dataclass(frozen=True)
class Mapping:
    """Original tensor name -> alias, for inputs and outputs."""

    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def read_mapping(folder: Path) -> Mapping:
    """The folder's mapping, or an empty one when the file is absent."""
    path = folder / FILE_NAME
    if not path.is_file():
        return Mapping()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{FILE_NAME} in version folder {folder.name} is not readable JSON: {exc}") from None
    expected = '{"inputs": {...}, "outputs": {...}}'
    if not isinstance(document, dict):
        raise ModelLoadError(f"{FILE_NAME}: expected {expected}, got a JSON {type(document).__name__}")
    unknown = sorted(set(document) - {"inputs", "outputs"})
    if unknown:
        raise ModelLoadError(f"{FILE_NAME}: unknown key {unknown[0]!r}; expected {expected}")
    sides = []
    for side in ("inputs", "outputs"):
        table = document.get(side, {})
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()
        ):
            raise ModelLoadError(f"{FILE_NAME}: {side} must map tensor names to non-empty alias strings")
        if len(set(table.values())) != len(table):
            raise ModelLoadError(f"{FILE_NAME}: {side} aliases must be unique")
        sides.append(dict(table))
    return Mapping(inputs=sides[0], outputs=sides[1])
