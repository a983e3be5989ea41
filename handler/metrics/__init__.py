"""Prometheus metrics with OpenVINO Model Server's names, counted once in the core and served at ``GET /metrics``.

Counting happens where every request passes, never per transport: adapters
open a request context with OVMS's labels (``request_context.begin``), the
engine notes which model version serves it, and ``request_context.end``
counts success or failure and the request time; the infer pool times
inference and the wait for a free infer request, the batcher reports batch
sizes, model loads their duration. Gauges that describe state (streams,
nireq, busy infer requests, versions by state) are read from the engine when
``/metrics`` is scraped (``scrape``), so nothing updates them per request.

Why not ``prometheus_client`` at run time:

* its text encoder writes ``# TYPE <name>_total counter`` and ``<name>_total``
  samples for every counter, custom collectors included, so OVMS's counter
  names (``ovms_requests_success``, no suffix) cannot be printed, and
  dashboards and alerts written for OVMS would find nothing;
* it costs start-up time: importing it took 60-95 ms in a fresh interpreter
  and 15-45 ms on top of sanic and grpc (this machine, 2 shared cores,
  three runs each), where this package imports ``bisect`` and ``threading``;
* its values take a lock on every update; here every request-path update
  runs on the event loop's thread and is a plain add.

The renderer (``text``) prints OVMS's layout; the tests parse it with
``prometheus_client``'s own parser, so the format is checked by the library
that Prometheus users trust. One registry per process: ``enable`` makes it at
start-up, before any model loads; while metrics are off ``active()`` is None
and every hook costs one check.
"""

from __future__ import annotations

from collections.abc import Iterable

from .registry import Meter, Outcome, Registry

__all__ = ["Meter", "Outcome", "Registry", "active", "disable", "enable", "forget_model", "model_loaded", "storage_poll_failed",
           "version_meter"]

_active: Registry | None = None


def enable(families: Iterable[str], outcomes: Iterable[Outcome] = (), interfaces: Iterable[str] = ()) -> Registry:
    """Start counting ``families`` (names from ``families.SELECTABLE``); ``outcomes`` and ``interfaces`` are pre-created per version."""
    global _active
    _active = Registry(families, outcomes, interfaces)
    return _active


def disable() -> None:
    """Stop counting (tests; a process enables metrics once, at start-up)."""
    global _active
    _active = None


def active() -> Registry | None:
    """The process's registry, or None while metrics are off."""
    return _active


def version_meter(name: str, version: int) -> Meter | None:
    """The meter an infer pool times its inferences with (None while metrics are off)."""
    registry = _active
    return registry.meter(name, version) if registry is not None else None


def model_loaded(name: str, seconds: float, from_cache: bool) -> None:
    """A model version was read and compiled (``from_cache``: OpenVINO imported it from the cache dir); any thread."""
    registry = _active
    if registry is not None:
        registry.model_loaded(name, seconds, from_cache)


def storage_poll_failed(name: str) -> None:
    """A listing of ``name``'s storage failed (the versions already loaded keep serving)."""
    registry = _active
    if registry is not None:
        registry.storage_poll_failed(name)


def forget_model(name: str) -> None:
    """``name`` is no longer served: its series go (a multi-model endpoint loads and unloads many models over its life)."""
    registry = _active
    if registry is not None:
        registry.forget_model(name)
