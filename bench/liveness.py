"""How long ``/v2/health/live`` takes while a load runs: the event loop must not stall behind the work."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable

from .stats import Point


def liveness_during(rest_port: int, load: Callable[[], Point]) -> Point:
    """Liveness latency sampled every 10 ms while ``load`` runs (after 0.5 s of ramp-up).

    ``rps`` is the load's own throughput; ``extra`` has the worst sample, the
    sample count and the load's errors.
    """
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=30)
        done.wait(0.5)
        while not done.is_set():
            begin = time.perf_counter()
            connection.request("GET", "/v2/health/live")
            connection.getresponse().read()
            samples.append(time.perf_counter() - begin)
            done.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        loaded = load()
    finally:
        done.set()
        sampler.join()
    ordered = sorted(samples) or [float("nan")]
    return Point(loaded.rps, ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000,
                 {"max_ms": ordered[-1] * 1000, "samples": len(samples), "errors": loaded.extra.get("errors", 0)})
