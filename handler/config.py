"""Typed, validated model settings: one ``ModelConfig`` per served model.

They come from the CLI (``--model_name``/``--model_path`` and friends) or from
an OVMS ``config.json`` (``model_config_list``); both paths go through
``model_config_from_mapping`` so a value is checked the same way wherever it
was written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .values import (
    ShapeSpec,
    VersionPolicy,
    fail,
    parse_batch_size,
    parse_bool,
    parse_int,
    parse_layout,
    parse_plugin_config,
    parse_shape,
    parse_version_policy,
)

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to serve one model's versions."""

    name: str
    base_path: str
    batch_size: int | str | None = None
    shape: ShapeSpec | None = None
    layout: str | dict[str, str] | None = None
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    nireq: int = 0
    target_device: str = "CPU"
    plugin_config: dict[str, str] = field(default_factory=dict)
    cache_dir: str | None = None
    preload: bool = False
    max_queued_requests: int = 128


_KNOWN_KEYS = {
    "name",
    "base_path",
    "batch_size",
    "shape",
    "layout",
    "model_version_policy",
    "nireq",
    "target_device",
    "plugin_config",
    "cache_dir",
    "preload",
    "max_queued_requests",
}
# Accepted so OVMS configs load, but they configure features this server does not have.
_IGNORED_KEYS = {"stateful", "idle_sequence_cleanup", "max_sequence_number", "low_latency_transformation"}


# How the command line spells the settings whose config.json names differ.
CLI_NAMES = {"name": "model_name", "base_path": "model_path"}


def model_config_from_mapping(
    where: str, raw: dict[str, Any], defaults: dict[str, Any], spelled: dict[str, str] | None = None
) -> ModelConfig:
    """Validate one model's settings.

    ``where`` prefixes error keys (``--`` or a JSON path); ``spelled`` renames keys
    in messages so each error names the setting the way the user wrote it.
    ``defaults`` must already be valid: they are not the user's words for this model.
    """
    unknown = set(raw) - _KNOWN_KEYS - _IGNORED_KEYS
    if unknown:
        raise ConfigError(
            f"{where}{sorted(unknown)[0]}: unknown model setting; expected one of {sorted(_KNOWN_KEYS)}"
        )
    merged = {**defaults, **{k: v for k, v in raw.items() if v is not None}}

    def key(name: str) -> str:
        return f"{where}{(spelled or {}).get(name, name)}"

    name = merged.get("name")
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise fail(key("name"), "a model name of letters, digits, '_', '-' or '.'", name)
    base_path = merged.get("base_path")
    if not isinstance(base_path, str) or not base_path.strip():
        raise fail(key("base_path"), "a path to the model's version folders", base_path)
    shape = parse_shape(key("shape"), merged.get("shape"))
    batch_size = parse_batch_size(key("batch_size"), merged.get("batch_size"))
    target_device = merged.get("target_device", "CPU")
    if not isinstance(target_device, str) or not target_device.strip():
        raise fail(key("target_device"), "a device name such as CPU", target_device)
    cache_dir = merged.get("cache_dir")
    if cache_dir is not None and not isinstance(cache_dir, str):
        raise fail(key("cache_dir"), "a directory path", cache_dir)
    return ModelConfig(
        name=name,
        base_path=base_path.strip(),
        batch_size=batch_size,
        shape=shape,
        layout=parse_layout(key("layout"), merged.get("layout")),
        version_policy=parse_version_policy(key("model_version_policy"), merged.get("model_version_policy")),
        nireq=parse_int(key("nireq"), merged.get("nireq", 0), minimum=0, maximum=1024),
        target_device=target_device.strip(),
        plugin_config=parse_plugin_config(key("plugin_config"), merged.get("plugin_config")),
        cache_dir=cache_dir or None,
        preload=parse_bool(key("preload"), merged.get("preload", False)),
        max_queued_requests=parse_int(
            key("max_queued_requests"), merged.get("max_queued_requests", 128), minimum=1, maximum=1_000_000
        ),
    )


def load_config_file(path: str, defaults: dict[str, Any]) -> list[ModelConfig]:
    """Read an OVMS ``config.json``; relative ``base_path`` values resolve against its folder."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config_path: cannot read {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config_path: {path!r} is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--config_path: {path!r} is not valid JSON ({exc})") from None
    return models_from_document(document, defaults, Path(path).resolve().parent)


def models_from_document(document: Any, defaults: dict[str, Any], relative_to: Path) -> list[ModelConfig]:
    """Validate a parsed ``{"model_config_list": [{"config": {...}}, ...]}`` document."""
    if not isinstance(document, dict) or not isinstance(document.get("model_config_list"), list):
        raise fail("model_config_list", 'a list of {"config": {...}} entries', document)
    models: list[ModelConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["model_config_list"]):
        where = f"model_config_list[{index}].config."
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise fail(f"model_config_list[{index}]", 'an object {"config": {...}}', entry)
        raw = dict(entry["config"])
        base = raw.get("base_path")
        if isinstance(base, str) and "://" not in base and not Path(base).is_absolute():
            raw["base_path"] = str(relative_to / base)
        model = model_config_from_mapping(where, raw, defaults)
        if model.name in seen:
            raise ConfigError(f"{where}name: model {model.name!r} is defined twice; expected unique names")
        seen.add(model.name)
        models.append(model)
    return models
