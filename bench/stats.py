"""One measured point and the medians over repeats."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Point:
    """Throughput and latency of one run; extra holds per-point facts (CPU use, errors)."""

    rps: float
    p50_ms: float
    p99_ms: float
    extra: dict = field(default_factory=dict)


def summarize(latencies_s: list[float], elapsed_s: float) -> Point:
    ordered = sorted(latencies_s)
    if not ordered:
        return Point(0.0, float("nan"), float("nan"))
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Point(len(ordered) / elapsed_s, p50 * 1000, p99 * 1000)


def median_point(points: list[Point]) -> Point:
    """Medians of each figure over repeats (extras: medians of numbers, first value otherwise)."""
    extra = {}
    for key in points[0].extra:
        values = [p.extra.get(key) for p in points]
        numbers = [v for v in values if isinstance(v, (int, float))]
        extra[key] = statistics.median(numbers) if len(numbers) == len(values) else values[0]
    return Point(
        statistics.median(p.rps for p in points),
        statistics.median(p.p50_ms for p in points),
        statistics.median(p.p99_ms for p in points),
        extra,
    )


def interleaved(points: dict[Any, Callable[[], Point]], repeats: int) -> dict[Any, list[Point]]:
    """Every point once per repeat, in turn, so drift in the machine's load spreads over all of them alike."""
    measured: dict[Any, list[Point]] = {key: [] for key in points}
    for repeat in range(repeats):
        for key, run in points.items():
            print(f"[{repeat + 1}/{repeats}] {key}", file=sys.stderr, flush=True)
            measured[key].append(run())
    return measured
