"""The request being served now: its id and where it came in, for its log lines, its metrics and its access line.

Adapters open one context per request (``begin``) with the id the caller sent
(``x-request-id``, gRPC metadata, SageMaker's or Lambda's own) or a new one, and
the labels OpenVINO Model Server's metrics use (``api``, ``interface``,
``method``). The engine notes which model version serves it (``serving``), and
the adapter closes it with how it ended (``end``), which is where the request
is counted (``handler.metrics``) and its access line written
(``access_log``): once, in the core, whatever the transport. A ``ContextVar``
follows the request across ``await`` and into tasks it starts; code that hands
work to a thread copies the context explicitly (``offload`` does).
"""

from __future__ import annotations

import os
import random
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass

from . import access_log, metrics
from .metrics import Meter

# An id sent in is echoed and logged, so it is bounded and printable: anything else is replaced, not trusted.
MAX_ID_LENGTH = 128
HEADER = "x-request-id"  # the HTTP header and the gRPC metadata key an id is read from and echoed in

# OVMS's label values (serving-features.md A2); SageMaker and Lambda are ovserve's own.
TFS = "TensorFlowServing"
KSERVE = "KServe"
SAGEMAKER = "SageMaker"
LAMBDA = "Lambda"
REST = "REST"
GRPC = "gRPC"


@dataclass(slots=True)
class RequestInfo:
    """One request: ``request_id`` always set; the labels empty until the adapter knows them.

    ``route`` is what the access line names (the URL path, or the RPC's full
    method name) and ``verb`` the HTTP method; ``sent`` says the id came from the
    caller. ``model``, ``version``, ``inference`` and ``meter`` are the engine's
    notes (``serving``); ``started`` is ``time.perf_counter()`` at ``begin``.
    """

    request_id: str
    api: str = ""
    interface: str = ""
    method: str = ""
    route: str = ""
    verb: str = ""
    sent: bool = False
    started: float = 0.0
    model: str | None = None
    version: int | None = None
    inference: bool = False
    meter: Meter | None = None


_current: ContextVar[RequestInfo | None] = ContextVar("ovserve_request", default=None)


def usable(sent: str | None) -> bool:
    """Whether ``sent`` can be taken as an id: 1..128 printable ASCII characters, no spaces."""
    if not sent:
        return False
    return len(sent) <= MAX_ID_LENGTH and sent.isascii() and sent.isprintable() and " " not in sent


# Ids need to be unique, not secret: a generator seeded once from the OS, because ``os.urandom`` (and so uuid4) is a
# system call that releases the GIL, and under load the loop then waits for an inference thread to give it back
# (13 µs a request measured in a busy server, against 0.35 µs in a quiet one).
_ids = random.Random(os.urandom(32))


def new_id() -> str:
    """A fresh id: 128 random bits as 32 hex digits."""
    return f"{_ids.getrandbits(128):032x}"


def begin(
    sent_id: str | None, api: str = "", interface: str = "", method: str = "", route: str = "", verb: str = ""
) -> Token[RequestInfo | None]:
    """Make this the current request; pass the returned token to ``end`` when the answer is sent."""
    sent = sent_id is not None and usable(sent_id)
    request_id = sent_id if sent and sent_id is not None else new_id()
    return _current.set(RequestInfo(request_id, api, interface, method, route, verb, sent, time.perf_counter()))


def serving(model: str, version: int | None, inference: bool = False, body_id: str | None = None) -> None:
    """The engine's note: ``model`` (``version``, None for status methods) serves the current request.

    The first note wins, except that an inference replaces a metadata or status
    note (a SageMaker invocation may read metadata first). ``body_id``, a KServe
    v2 body's ``id``, becomes the request's id when the caller sent none in
    ``x-request-id``: the client already knows it, so the logs are found by it.
    """
    info = _current.get()
    if info is None:
        return
    if body_id is not None and not info.sent and usable(body_id):
        info.request_id, info.sent = body_id, True
    if info.model is not None and (info.inference or not inference):
        return
    info.model, info.version, info.inference = model, version, inference
    registry = metrics.active()
    if registry is not None:
        meter = info.meter = registry.meter(model, version)
        if inference:
            meter.current.value += 1


def end(token: Token[RequestInfo | None], status: int | str | None = None, ok: bool = True, bytes_in: int = 0,
        bytes_out: int = 0) -> None:
    """Leave the request opened by ``begin``; with ``status`` (HTTP status or gRPC code name), count it and log its access line.

    ``ok`` says the answer was a success (an HTTP status below 400, gRPC OK).
    Without ``status`` the request is left uncounted: its adapter did not say how it ended.
    """
    info = _current.get()
    try:
        if info is not None and status is not None:
            _finish(info, status, ok, bytes_in, bytes_out)
    finally:
        try:
            _current.reset(token)
        except ValueError:  # closed from another context than it was opened in: leave no request current
            _current.set(None)


def _finish(info: RequestInfo, status: int | str, ok: bool, bytes_in: int, bytes_out: int) -> None:
    seconds = time.perf_counter() - info.started
    meter = info.meter
    if meter is not None:
        meter.outcome(ok, info.api, info.interface, info.method).value += 1
        if info.inference:
            meter.request_time(info.interface).observe(seconds * 1e6)
            meter.current.value -= 1
    if access_log.enabled():
        access_log.write(info, status, seconds, bytes_in, bytes_out)


def current() -> RequestInfo | None:
    """The request this code runs for, or None outside any (start-up, polling, shutdown)."""
    return _current.get()
