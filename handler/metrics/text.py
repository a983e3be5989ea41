"""The Prometheus text format (version 0.0.4), laid out as OpenVINO Model Server prints it.

Per family ``# HELP`` then ``# TYPE``, then its series; label keys in
alphabetical order (``le`` last); each histogram series prints ``_count``,
then ``_sum``, then its cumulative buckets ending with ``+Inf``; no
``_created`` series. Counters keep their own names: OVMS's have no ``_total``
suffix (the reason this renderer exists, see ``handler.metrics``).
"""

from __future__ import annotations

from .families import HISTOGRAM
from .registry import Labels, Registry
from .values import Histogram, Number

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    """A label value inside double quotes: backslash, quote and newline escaped as the format requires."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _pairs(labels: Labels) -> str:
    return ",".join(f'{key}="{_escape(value)}"' for key, value in labels)


def _number(value: float) -> str:
    """An integer without a fraction (counts, µs sums that happen to be whole), else Python's shortest round-trip form."""
    if value == int(value):
        return str(int(value))
    return repr(float(value))


def _histogram_lines(name: str, labels: Labels, histogram: Histogram) -> list[str]:
    inside = _pairs(labels)
    braces = f"{{{inside}}}" if inside else ""
    lines = [f"{name}_count{braces} {histogram.count}", f"{name}_sum{braces} {_number(histogram.sum)}"]
    prefix = f"{name}_bucket{{{inside},le=" if inside else f"{name}_bucket{{le="
    for bound, count in zip((*histogram.bounds, "+Inf"), histogram.cumulative(), strict=True):
        lines.append(f'{prefix}"{bound}"}} {count}')
    return lines


def render(registry: Registry) -> bytes:
    """Every enabled family and its series, as the body of ``GET /metrics``."""
    lines: list[str] = []
    for held in registry.families():
        family = held.family
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in tuple(held.series.items()):  # a copy: a model load may add a series from its thread
            if family.kind == HISTOGRAM:
                assert isinstance(value, Histogram)
                lines.extend(_histogram_lines(family.name, labels, value))
            else:
                assert isinstance(value, Number)
                inside = _pairs(labels)
                lines.append(f"{family.name}{{{inside}}} {_number(value.value)}" if inside else f"{family.name} {_number(value.value)}")
    lines.append("")
    return "\n".join(lines).encode()
