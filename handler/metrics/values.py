"""The values behind one series: a number (counters and gauges) or a histogram.

Updates are plain attribute and list arithmetic, with no lock: every update of
request series happens on the event loop's thread (inference threads hand
their timings back to the loop with the result they already report), so the
GIL's ordering is enough. The one update made from other threads, a model
load's duration, takes ``Histogram.observe_locked``.
"""

from __future__ import annotations

from bisect import bisect_left


class Number:
    """A counter's or gauge's value: ``value`` is added to or set directly on the hot path."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float = 0


class Histogram:
    """Observations counted per bucket (non-cumulative here; the text renderer sums them), with their count and sum.

    ``counts[i]`` holds observations ``<= bounds[i]`` and above the previous
    bound; the last slot is the ``+Inf`` bucket.
    """

    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: tuple[int, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum: float = 0

    def observe(self, value: float) -> None:
        """Count one observation (call on the event loop's thread)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[int]:
        """The bucket counts as Prometheus reports them: each bound counts every observation at or below it."""
        total, running = 0, []
        for count in self.counts:
            total += count
            running.append(total)
        return running
