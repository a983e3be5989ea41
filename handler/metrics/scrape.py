"""``GET /metrics``'s body: the state gauges read from the engine, then every enabled family rendered.

Streams, nireq, busy infer requests and versions by state describe what is
loaded, not what requests did, so they are read here, when Prometheus asks,
instead of being updated on every load, recompile and request. A version
that is no longer loaded reads 0, as OVMS sets its gauges to 0 on unload. The
zero series OVMS creates at load (success and fail counters, request-time
histograms) are made here too for every AVAILABLE version, so they appear
before the first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..status import AVAILABLE, END, LOADING, START, UNLOADING
from . import active
from . import families as f
from .registry import Registry
from .text import render

if TYPE_CHECKING:
    from ..engine import Engine

STATES = (START, LOADING, AVAILABLE, UNLOADING, END)
_GAUGES = (f.STREAMS, f.QUEUE_SIZE, f.ACTIVE, f.MODEL_VERSIONS)


def streams_of(compiled: Any, fallback: int) -> int:
    """OpenVINO's execution streams for a compiled model (``NUM_STREAMS``; OVMS falls back to the optimal infer requests)."""
    for name in ("NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS"):
        try:
            return int(compiled.get_property(name))
        except Exception:  # a device without the property, or a value that is not a number (AUTO)
            continue
    return fallback


def collect(registry: Registry, engine: Engine) -> None:
    """Set the state gauges from ``engine`` and pre-create the zero series of its AVAILABLE versions."""
    for family in _GAUGES:
        registry.zero(family)
    for name in engine.model_names():
        registry.meter(name, None).precreate(registry.outcomes, ())
        for state in STATES:
            registry.number(f.MODEL_VERSIONS, (("name", name), ("state", state)))
    for name, state, served in engine.versions_held():
        registry.number(f.MODEL_VERSIONS, (("name", name), ("state", state))).value += 1
        runtime = served.runtime
        if state != AVAILABLE and runtime is None:
            continue  # failed, retired or still arriving: nothing to report, and no new series for it
        if state == AVAILABLE:
            registry.meter(name, served.version).precreate(registry.outcomes, registry.interfaces)
        labels = (("name", name), ("version", str(served.version)))
        streams, queue_size, busy = (registry.number(family, labels) for family in (f.STREAMS, f.QUEUE_SIZE, f.ACTIVE))
        if runtime is not None:
            compiled, pool = runtime
            streams.value = streams_of(compiled, pool.size)
            queue_size.value = pool.size
            busy.value = pool.busy


def scrape(engine: Engine) -> bytes | None:
    """The text body for ``GET /metrics``, or None while metrics are off."""
    registry = active()
    if registry is None:
        return None
    collect(registry, engine)
    return render(registry)
