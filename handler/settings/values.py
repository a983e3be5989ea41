"""Parsers for setting values given as text (CLI, environment) or JSON (config.json).

Each parser takes the setting's key so its error names it together with what
was expected: ``--nireq: expected an integer >= 0, got 'abc'``. Start-up turns
that into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

# A dimension: an int (>= 0), -1 for "any", or an inclusive (low, high) range.
Dim = int | tuple[int, int]
Dims = tuple[Dim, ...]

_DIM_RANGE = re.compile(r"^([0-9]+)(?::|\.\.)([0-9]+)$")
_LAYOUT = re.compile(r"^[A-Z?.]+(?::[A-Z?.]+)?$")


def fail(key: str, expected: str, got: Any) -> ConfigError:
    """Build the one-line error every setting uses."""
    shown = got if isinstance(got, str) else json.dumps(got, default=str)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    return ConfigError(f"{key}: expected {expected}, got {shown!r}")


def parse_int(key: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer within bounds, from an int or its decimal text."""
    expected = "an integer"
    if minimum is not None and maximum is not None:
        expected = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        expected = f"an integer >= {minimum}"
    elif maximum is not None:
        expected = f"an integer <= {maximum}"
    if isinstance(value, bool):
        raise fail(key, expected, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        number = int(value)
    else:
        raise fail(key, expected, value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise fail(key, expected, value)
    return number


def parse_bool(key: str, value: Any) -> bool:
    """true/false in the spellings environments use (1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise fail(key, "true or false", value)


def parse_json_object(key: str, value: Any) -> dict:
    """A JSON object given inline as text, or already a dict."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            raise fail(key, "a JSON object", value) from None
        if isinstance(loaded, dict):
            return loaded
    raise fail(key, "a JSON object", value)


def parse_batch_size(key: str, value: Any) -> int | str | None:
    """A positive integer, ``auto``, or nothing (0 and empty mean 'from the model')."""
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    return parse_int(key, value, minimum=1, maximum=2**31 - 1)


def _parse_dim(key: str, token: Any, whole: Any) -> Dim:
    if isinstance(token, bool):
        raise fail(key, "dimensions as integers, -1 or low:high", whole)
    if isinstance(token, int):
        if token < -1:
            raise fail(key, "dimensions >= -1", whole)
        return token
    text = str(token).strip()
    if text in ("?", "-1"):
        return -1
    if re.fullmatch("[0-9]+", text):
        return int(text)
    ranged = _DIM_RANGE.match(text)
    if ranged:
        low, high = int(ranged.group(1)), int(ranged.group(2))
        if low > high:
            raise fail(key, "a range low:high with low <= high", whole)
        return (low, high)
    raise fail(key, "a shape like (1,3,224,224), with -1 or low:high for flexible dimensions", whole)


def parse_dims(key: str, value: Any) -> Dims:
    """A shape given as "(1,3,224,224)", "[1,3,-1,-1]", "1,3,200:300" or a JSON list."""
    if isinstance(value, (list, tuple)):
        tokens = list(value)
    elif isinstance(value, str):
        text = value.strip()
        if text[:1] in "([" and text[-1:] in ")]":
            text = text[1:-1]
        tokens = [t for t in text.split(",")] if text.strip() else []
        if any(not t.strip() for t in tokens):
            raise fail(key, "a shape like (1,3,224,224)", value)
    else:
        raise fail(key, "a shape like (1,3,224,224)", value)
    return tuple(_parse_dim(key, token, value) for token in tokens)


@dataclass(frozen=True)
class ShapeSpec:
    """What ``shape`` asks for: 'auto', one shape for a single input, or per input."""

    auto: bool = False
    single: Dims | None = None
    per_input: tuple[tuple[str, Dims | str], ...] = ()


def parse_shape(key: str, value: Any) -> ShapeSpec | None:
    """``auto``, a tuple for a single-input model, or a dict of input name to tuple/auto."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return ShapeSpec(auto=True)
    if isinstance(value, str) and value.strip().startswith("{"):
        value = parse_json_object(key, value)
    if isinstance(value, dict):
        if not value:
            raise fail(key, "a non-empty object of input name to shape", value)
        items: list[tuple[str, Dims | str]] = []
        for name, shape in value.items():
            if isinstance(shape, str) and shape.strip().lower() == "auto":
                items.append((name, "auto"))
            else:
                items.append((name, parse_dims(f"{key}.{name}", shape)))
        return ShapeSpec(per_input=tuple(items))
    return ShapeSpec(single=parse_dims(key, value))


def parse_layout(key: str, value: Any) -> str | dict[str, str] | None:
    """``NHWC`` (single input), ``NHWC:NCHW`` (tensor:model), or a dict per tensor name."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().startswith("{"):
        value = parse_json_object(key, value)
    expected = "a layout like NHWC or NHWC:NCHW, or an object of tensor name to layout"
    if isinstance(value, dict):
        if not value:
            raise fail(key, expected, value)
        for name, layout in value.items():
            if not isinstance(layout, str) or not _LAYOUT.match(layout.strip().upper()):
                raise fail(f"{key}.{name}", "a layout like NHWC or NHWC:NCHW", layout)
        return {name: layout.strip().upper() for name, layout in value.items()}
    if isinstance(value, str) and _LAYOUT.match(value.strip().upper()):
        return value.strip().upper()
    raise fail(key, expected, value)


@dataclass(frozen=True)
class VersionPolicy:
    """Which of the versions present are served: latest N, all, or specific ones."""

    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, present: list[int]) -> list[int]:
        """The served subset of ``present`` version numbers, highest first."""
        ordered = sorted(set(present), reverse=True)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            wanted = set(self.versions)
            return [v for v in ordered if v in wanted]
        return ordered[: self.num_versions]


def parse_version_policy(key: str, value: Any) -> VersionPolicy:
    """``{"latest":{"num_versions":N}}``, ``{"all":{}}`` or ``{"specific":{"versions":[…]}}``."""
    if value is None or value == "":
        return VersionPolicy()
    expected = 'one of {"latest":{"num_versions":N}}, {"all":{}}, {"specific":{"versions":[1,2]}}'
    policy = parse_json_object(key, value) if not isinstance(value, dict) else value
    if len(policy) != 1:
        raise fail(key, expected, value)
    (kind, body), = policy.items()
    if not isinstance(body, dict):
        raise fail(key, expected, value)
    if kind == "all":
        if body:
            raise fail(key, expected, value)
        return VersionPolicy(kind="all")
    if kind == "latest":
        unknown = set(body) - {"num_versions"}
        if unknown:
            raise fail(key, expected, value)
        count = parse_int(f"{key}.latest.num_versions", body.get("num_versions", 1), minimum=1)
        return VersionPolicy(kind="latest", num_versions=count)
    if kind == "specific":
        versions = body.get("versions")
        if set(body) != {"versions"} or not isinstance(versions, list) or not versions:
            raise fail(f"{key}.specific.versions", "a non-empty list of version numbers", versions)
        numbers = tuple(parse_int(f"{key}.specific.versions", v, minimum=1) for v in versions)
        return VersionPolicy(kind="specific", versions=numbers)
    raise fail(key, expected, value)


# Keys from older OpenVINO releases that OVMS documents; translated so old configs keep working.
_LEGACY_PLUGIN_KEYS = {
    "CPU_THROUGHPUT_STREAMS": "NUM_STREAMS",
    "GPU_THROUGHPUT_STREAMS": "NUM_STREAMS",
    "CPU_THREADS_NUM": "INFERENCE_NUM_THREADS",
}
_LEGACY_PLUGIN_VALUES = {"CPU_THROUGHPUT_AUTO": "AUTO", "GPU_THROUGHPUT_AUTO": "AUTO"}


def parse_plugin_config(key: str, value: Any) -> dict[str, str]:
    """A JSON object of OpenVINO properties; values become strings as OpenVINO takes them."""
    if value is None or value == "":
        return {}
    config = parse_json_object(key, value)
    result: dict[str, str] = {}
    for name, setting in config.items():
        if isinstance(setting, (dict, list)) or setting is None:
            raise fail(f"{key}.{name}", "a string, number or boolean", setting)
        text = str(setting).upper() if isinstance(setting, bool) else str(setting)
        name = _LEGACY_PLUGIN_KEYS.get(name, name)
        result[name] = _LEGACY_PLUGIN_VALUES.get(text, text)
    return result
