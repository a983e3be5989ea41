"""The per-model ``image`` setting: how encoded images become this model's input, checked at start-up.

``{"color": "RGB", "mean": [123.675, 116.28, 103.53], "scale": [58.395, 57.12, 57.375], "resize": "linear"}``
tells the server what the model was trained on, so a client can send a plain JPEG. The colour order is applied by
the decoder (it decodes to either order at the same cost); ``mean``, ``scale`` and ``resize`` are compiled into the
model with OpenVINO's PrePostProcessor (handler/preprocess.py) so they run in OpenVINO's threads, not in Python.
Each field is validated here so a typo stops start-up with one line naming the field and what it expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .values import fail, parse_json_object

COLORS = ("BGR", "RGB")
RESIZES = ("linear", "nearest", "cubic")
_FIELDS = ("color", "mean", "scale", "resize")


@dataclass(frozen=True)
class ImageSpec:
    """What a model's images need: channel order, per-channel mean and scale, and a compiled-in resize."""

    color: str = "BGR"
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    resize: str | None = None  # None: the model's own H and W, resized in Python (OVMS's rule); else the algorithm

    @property
    def compiled(self) -> bool:
        """Whether the model gets pre-processing steps (a u8 NHWC input) rather than only a colour order."""
        return self.mean is not None or self.scale is not None or self.resize is not None


def _floats(key: str, value: Any, positive: bool) -> tuple[float, ...]:
    expected = "a list of 1 or 3 numbers (one per channel)" + (", none of them 0" if positive else "")
    if not isinstance(value, list) or len(value) not in (1, 3):
        raise fail(key, expected, value)
    numbers = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise fail(key, expected, value)
        if positive and item == 0:
            raise fail(key, expected, value)
        numbers.append(float(item))
    return tuple(numbers)


def parse_image(key: str, value: Any) -> ImageSpec | None:
    """``value`` (a JSON object, or its text from a flag or the environment) as an ImageSpec; None when absent."""
    if value is None or value == "":
        return None
    raw = parse_json_object(key, value)
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise fail(f"{key}.{unknown[0]}", f"no such field; the image setting takes {list(_FIELDS)}", raw[unknown[0]])
    color = raw.get("color", "BGR")
    if not isinstance(color, str) or color.strip().upper() not in COLORS:
        raise fail(f"{key}.color", "BGR or RGB", color)
    resize = raw.get("resize")
    if resize is not None and (not isinstance(resize, str) or resize.strip().lower() not in RESIZES):
        raise fail(f"{key}.resize", " or ".join(RESIZES), resize)
    mean = _floats(f"{key}.mean", raw["mean"], positive=False) if raw.get("mean") is not None else None
    scale = _floats(f"{key}.scale", raw["scale"], positive=True) if raw.get("scale") is not None else None
    return ImageSpec(
        color=color.strip().upper(),
        mean=mean,
        scale=scale,
        resize=resize.strip().lower() if isinstance(resize, str) else None,
    )
