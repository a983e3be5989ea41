"""Typed, validated model settings: one ``ModelConfig`` per served model.

They come from the CLI (``--model_name``/``--model_path`` and friends) or from
an OVMS ``config.json`` (``model_config_list``); both paths go through
``model_config_from_mapping`` so a value is checked the same way wherever it
was written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batching_settings import BatchingSettings, from_config
from ..codecs.images import DEFAULT_MAX_PIXELS
from ..errors import ConfigError
from .image import ImageSpec, parse_image
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

# OVMS's own rule is looser; these names need no escaping in a URL, a log line or a file name. REST decodes
# percent-encoded paths, so a client that escapes them anyway (my%2Emodel) reaches the model too.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
# Largest chunk of records one inference takes for models that accept any batch size. 1024 measured best for
# batch transform bodies (bench/RESULTS.md: 64-record chunks gave half the CSV throughput).
DEFAULT_MAX_RECORDS_PER_BATCH = 1024
# Largest total size of a model.tar.gz's members: more than any model, less than a full disk.
DEFAULT_MAX_ARCHIVE_BYTES = 20 * 1024**3


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
    max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    image: ImageSpec | None = None  # how encoded images become the input (settings/image.py); None: OVMS's rules
    max_image_pixels: int = DEFAULT_MAX_PIXELS  # the largest width x height an image header may declare
    batching: BatchingSettings | None = None  # dynamic batching (batching_settings.py); None: off, the default


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
    "image",
    "batching",
}
# OVMS's stateful-model keys. Accepted so OVMS configs load, as long as they ask for nothing this server
# does not do: "stateful" and "low_latency_transformation" must be false; "idle_sequence_cleanup" and
# "max_sequence_number" only tune stateful sequences, so any valid value is harmless without them.
_STATEFUL_KEYS = {"stateful", "idle_sequence_cleanup", "max_sequence_number", "low_latency_transformation"}
_UNSUPPORTED_WHEN_TRUE = {
    "stateful": "stateful models are not supported",
    "low_latency_transformation": "the low latency transformation (for stateful models) is not supported",
}


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
    unknown = set(raw) - _KNOWN_KEYS - _STATEFUL_KEYS
    if unknown:
        raise ConfigError(
            f"{where}{sorted(unknown)[0]}: unknown model setting; expected one of {sorted(_KNOWN_KEYS)}"
        )
    merged = {**defaults, **{k: v for k, v in raw.items() if v is not None}}

    def key(name: str) -> str:
        return f"{where}{(spelled or {}).get(name, name)}"

    _refuse_stateful(raw, key)
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
        # Server-wide limits, validated under their flag names (shared_model_defaults) before they get here.
        max_records_per_batch=merged.get("max_records_per_batch", DEFAULT_MAX_RECORDS_PER_BATCH),
        max_archive_bytes=merged.get("max_archive_bytes", DEFAULT_MAX_ARCHIVE_BYTES),
        image=parse_image(key("image"), merged.get("image")),
        max_image_pixels=merged.get("max_image_pixels", DEFAULT_MAX_PIXELS),
        batching=_batching(merged.get("batching"), key("batching")),
    )


def _batching(value: Any, where: str) -> BatchingSettings | None:
    """The model's own ``"batching"`` (an object, true or false), else the server-wide value from ``defaults``.

    The server-wide value (``--enable_batching``, SageMaker's variables) arrives
    already validated as ``BatchingSettings``; a model's own key replaces it, and
    ``"batching": false`` opts that model out.
    """
    if isinstance(value, BatchingSettings):
        return value
    return from_config(value, where=where)


def _refuse_stateful(raw: dict[str, Any], key: Callable[[str], str]) -> None:
    """Stop start-up when a stateful-model key asks for a feature this server does not carry out.

    Serving such a model stateless without a word would answer wrongly; a
    value that asks for nothing (``"stateful": false``) is accepted.
    """
    for name, problem in _UNSUPPORTED_WHEN_TRUE.items():
        if raw.get(name) is not None and parse_bool(key(name), raw[name]):
            raise ConfigError(f"{key(name)}: {problem}; expected false, got 'true'")
    if raw.get("idle_sequence_cleanup") is not None:
        parse_bool(key("idle_sequence_cleanup"), raw["idle_sequence_cleanup"])
    if raw.get("max_sequence_number") is not None:
        parse_int(key("max_sequence_number"), raw["max_sequence_number"], minimum=0, maximum=2**32 - 1)


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
