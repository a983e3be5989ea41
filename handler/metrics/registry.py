"""The series of the enabled families, and the per-version meters the hot path updates.

A series is a family plus its labels, kept as (key, value) pairs sorted by
key, which is also the order OVMS prints them in. The request path never
builds labels: ``Registry.meter(name, version)`` hands out one ``Meter`` per
model version (one per model, with no version, for the status methods, which
OVMS counts without one), and the meter caches each series it has touched, so
counting a request is a dict lookup and an add. A series of a family that is
not enabled is a detached value: updated like any other, never stored or
printed, so no caller checks what is enabled.

Labels are OVMS's: ``api`` (``TensorFlowServing``, ``KServe``, and ovserve's
``SageMaker``), ``interface`` (``REST``, ``gRPC``), ``method`` (the API's
method name: ``Predict``, ``GetModelMetadata``, ``GetModelStatus``,
``ModelInfer``, ``ModelMetadata``, ``ModelReady``; ``Invocations`` for
SageMaker), ``name`` and ``version`` (decimal). As OVMS does, the success and
fail counters of each configured (api, interface, method) are created at zero
for every version that is AVAILABLE (``Meter.precreate``), so a dashboard's
``rate()`` has a series before the first request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from . import families as f
from .values import Histogram, Number

Labels = tuple[tuple[str, str], ...]
Outcome = tuple[str, str, str]  # (api, interface, method)

# OVMS counts these per model, without a version label.
STATUS_METHODS = frozenset({"GetModelStatus", "ModelReady"})


@dataclass
class FamilySeries:
    """An enabled family and its series, in creation order (the order they are printed in)."""

    family: f.Family
    series: dict[Labels, Number | Histogram] = field(default_factory=dict)


class Meter:
    """One model version's series (or, with ``version`` None, one model's status-method counters).

    The hot path calls ``outcome`` and ``request_time`` (cached lookups) and
    updates ``current``, ``inference`` and ``wait`` directly; the batcher calls
    ``observe_batch``.
    """

    __slots__ = ("_registry", "name", "version", "_outcomes", "_request_times", "current", "inference", "wait", "_batch",
                 "precreated")

    def __init__(self, registry: Registry, name: str, version: int | None) -> None:
        self._registry = registry
        self.name = name
        self.version = version
        self._outcomes: dict[tuple[bool, str, str, str], Number] = {}
        self._request_times: dict[str, Histogram] = {}
        self._batch: tuple[Histogram, Histogram] | None = None
        self.precreated = False
        if version is None:  # status methods count outcomes only: these stay detached, never printed
            self.current, self.inference, self.wait = Number(), Histogram(()), Histogram(())
            return
        labels = self._labels()
        self.current = registry.number(f.CURRENT_REQUESTS, labels)
        self.inference = registry.histogram(f.INFERENCE_TIME, labels)
        self.wait = registry.histogram(f.WAIT_TIME, labels)

    def _labels(self, **extra: str) -> Labels:
        pairs = {"name": self.name, **extra}
        if self.version is not None:
            pairs["version"] = str(self.version)
        return tuple(sorted(pairs.items()))

    def outcome(self, ok: bool, api: str, interface: str, method: str) -> Number:
        """The success (``ok``) or fail counter of one (api, interface, method)."""
        key = (ok, api, interface, method)
        counter = self._outcomes.get(key)
        if counter is None:
            family = f.REQUESTS_SUCCESS if ok else f.REQUESTS_FAIL
            counter = self._outcomes[key] = self._registry.number(family, self._labels(api=api, interface=interface, method=method))
        return counter

    def request_time(self, interface: str) -> Histogram:
        """``ovms_request_time_us`` for requests that came in over ``interface``."""
        histogram = self._request_times.get(interface)
        if histogram is None:
            histogram = self._request_times[interface] = self._registry.histogram(f.REQUEST_TIME, self._labels(interface=interface))
        return histogram

    def observe_batch(self, requests: int, rows: int) -> None:
        """One inference run by the dynamic batcher: how many requests it merged and how many rows it ran (padding included)."""
        if self._batch is None:
            labels = self._labels()
            self._batch = (self._registry.histogram(f.BATCH_REQUESTS, labels), self._registry.histogram(f.BATCH_SIZE, labels))
        self._batch[0].observe(requests)
        self._batch[1].observe(rows)

    def precreate(self, outcomes: Iterable[Outcome], interfaces: Iterable[str]) -> None:
        """Create this meter's success and fail counters (and request-time histograms) at zero, once."""
        if self.precreated:
            return
        self.precreated = True
        for api, interface, method in outcomes:
            if (method in STATUS_METHODS) == (self.version is None):
                self.outcome(True, api, interface, method)
                self.outcome(False, api, interface, method)
        if self.version is not None:
            for interface in interfaces:
                self.request_time(interface)


class Registry:
    """The enabled families' series; ``outcomes`` and ``interfaces`` are what the front end pre-creates per version."""

    def __init__(self, enabled: Iterable[str], outcomes: Iterable[Outcome] = (), interfaces: Iterable[str] = ()) -> None:
        wanted = set(enabled)
        self._families = {family.name: FamilySeries(family) for family in f.ALL if family.name in wanted}
        self._meters: dict[tuple[str, int | None], Meter] = {}
        self.outcomes = tuple(outcomes)
        self.interfaces = tuple(interfaces)
        # Model loads run on threads of their own, several at once: they make meters and report load times under it.
        self._lock = threading.Lock()

    def enabled(self, family: f.Family) -> bool:
        return family.name in self._families

    def families(self) -> Iterator[FamilySeries]:
        """The enabled families with their series, in ``families.ALL`` order."""
        return iter(self._families.values())

    def number(self, family: f.Family, labels: Labels) -> Number:
        """The counter or gauge value of ``family`` at ``labels`` (detached when the family is not enabled)."""
        return self._get(family, labels, Number)  # type: ignore[return-value]

    def histogram(self, family: f.Family, labels: Labels) -> Histogram:
        """The histogram of ``family`` at ``labels`` (detached when the family is not enabled)."""
        return self._get(family, labels, lambda: Histogram(family.buckets))  # type: ignore[return-value]

    def _get(self, family: f.Family, labels: Labels, make: Callable[[], Number | Histogram]) -> Number | Histogram:
        held = self._families.get(family.name)
        if held is None:
            return make()
        value = held.series.get(labels)
        if value is None:
            value = held.series[labels] = make()
        return value

    def meter(self, name: str, version: int | None) -> Meter:
        """The meter of ``name``'s ``version`` (None: the model's status methods), made on first use."""
        key = (name, version)
        meter = self._meters.get(key)
        if meter is None:
            with self._lock:
                meter = self._meters.get(key)
                if meter is None:
                    meter = self._meters[key] = Meter(self, name, version)
        return meter

    def zero(self, family: f.Family) -> None:
        """Set every series of a gauge family to 0 (before a scrape sets the ones that still exist)."""
        held = self._families.get(family.name)
        for value in tuple(held.series.values()) if held is not None else ():
            value.value = 0  # type: ignore[union-attr]

    def model_loaded(self, name: str, seconds: float, from_cache: bool) -> None:
        """A model version finished loading (from any thread): its time, by where the compiled model came from."""
        labels = (("name", name), ("source", "cache" if from_cache else "compile"))
        with self._lock:
            self.histogram(f.MODEL_LOAD_TIME, labels).observe(seconds * 1e6)

    def storage_poll_failed(self, name: str) -> None:
        """One listing of ``name``'s storage failed."""
        self.number(f.STORAGE_POLL_FAILURES, (("name", name),)).value += 1

    def forget_model(self, name: str) -> None:
        """Drop every series of a model that is no longer served (a multi-model endpoint unloads models for good)."""
        for held in self._families.values():
            for labels in [labels for labels in tuple(held.series) if ("name", name) in labels]:
                del held.series[labels]
        for key in [key for key in self._meters if key[0] == name]:
            del self._meters[key]
