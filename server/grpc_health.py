"""gRPC health checking (``grpc.health.v1.Health``), answered from the engine's readiness.

Kubernetes gRPC probes, Envoy and gRPC's client-side health checking ask this
service; the wire messages and stubs are grpcio-health-checking's. Services:

* ``""`` (the whole server) and each API service on the port (TF Serving's
  two, KServe v2's) follow the engine's readiness, the rule behind
  ``/v2/health/ready``: SERVING once every model has a version to serve;
* each model's name is SERVING while the model has a version to serve (a
  lazily loaded one counts, as in v2 ModelReady), NOT_SERVING while it is
  discovered, fetched or compiled, once all its versions failed, and once it
  was unloaded or removed (a name this process served stays known);
* any other name is unknown: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN,
  as the health protocol says.

Why not the package's own servicer, whose states are pushed with ``set``:
readiness changes in many places (a scan publishing, a lazy load failing, the
repository API, storage polling), and none of them should have to know that
gRPC exists. Here states are read from the engine instead. Check computes
them when asked (one pass over the models' versions, microseconds), so it is
never stale. Open Watch streams are woken by a refresh every
``WATCH_REFRESH_SECONDS`` that runs only while one is open, so an unwatched
server pays nothing. And the package's Watch never ends, so a SIGTERM's grace
period would wait its whole length for every open stream: ``stop_serving``
tells each watcher NOT_SERVING and ends its stream, so balancers drain and
the server still stops as soon as its requests are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ovserve.handler.engine import Engine

SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"]
WATCH_REFRESH_SECONDS = 0.5  # how late an open Watch may hear of a change; Check is always current
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
_NAMES_IN_A_MESSAGE = 20
_ECHOED_NAME_CHARS = 200


class HealthService(health_pb2_grpc.HealthServicer):
    """Check, List and Watch over one engine; ``api_services`` follow the whole server's readiness, as ``""`` does."""

    def __init__(self, engine: Engine, api_services: Iterable[str]) -> None:
        self.engine = engine
        self.api_services = ("", *api_services)
        self._models_seen: dict[str, None] = {}  # an ordered set: every model this process has served
        self._states: dict[str, int] = {}
        self._changed = asyncio.Event()  # set (and replaced) whenever a look finds the states changed
        self._watchers = 0
        self._refresher: asyncio.Task | None = None
        self._stopping = False

    def states(self) -> dict[str, int]:
        """Every known service's state now; open Watch streams are woken when it differs from the last look."""
        current = self._read()
        if current != self._states:
            self._states = current
            self._changed.set()
            self._changed = asyncio.Event()
        return current

    def _read(self) -> dict[str, int]:
        served = self.engine.model_names()
        for name in (*served, *self.engine.unloaded_models()):
            self._models_seen.setdefault(name)
        if self._stopping:
            return dict.fromkeys((*self.api_services, *self._models_seen), NOT_SERVING)
        overall = SERVING if self.engine.is_ready() else NOT_SERVING
        states = dict.fromkeys(self.api_services, overall)
        cannot_serve = self.engine.unavailable_reasons()
        serving = {name for name in served if name not in cannot_serve}
        for name in self._models_seen:
            states.setdefault(name, SERVING if name in serving else NOT_SERVING)  # an API service's name wins over a model's
        return states

    def stop_serving(self) -> None:
        """Everything NOT_SERVING from now on (SIGTERM): watchers hear it and their streams end."""
        self._stopping = True
        self.states()
        if self._refresher is not None:
            self._refresher.cancel()

    async def Check(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        states = self.states()
        status = states.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, _unknown_service(request.service, states))
        return health_pb2.HealthCheckResponse(status=status)

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=status) for name, status in self.states().items()}
        )

    async def Watch(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:  # noqa: N802
        """The state now, then each change; an unknown name is SERVICE_UNKNOWN until it becomes known."""
        self._watchers += 1
        if self._refresher is None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_while_watched())
        try:
            sent = None
            while True:
                # Both taken before looking: a change made meanwhile (even while the yield below waits) is not missed,
                # and the stream ends only after it has sent what the stop made of its state.
                changed, stopping = self._changed, self._stopping
                status = self.states().get(request.service, SERVICE_UNKNOWN)
                if status != sent:
                    yield health_pb2.HealthCheckResponse(status=status)
                    sent = status
                if stopping:
                    return
                await changed.wait()
        finally:
            self._watchers -= 1

    async def _refresh_while_watched(self) -> None:
        try:
            while self._watchers and not self._stopping:
                await asyncio.sleep(WATCH_REFRESH_SECONDS)
                self.states()
        finally:
            self._refresher = None


def _unknown_service(name: str, states: dict[str, int]) -> str:
    known = [repr(service) for service in states]
    listed = ", ".join(known[:_NAMES_IN_A_MESSAGE])
    if len(known) > _NAMES_IN_A_MESSAGE:
        listed += f" and {len(known) - _NAMES_IN_A_MESSAGE} more"
    shown = name if len(name) <= _ECHOED_NAME_CHARS else name[:_ECHOED_NAME_CHARS] + "…"
    return (f"unknown service {shown!r}: expected '' (the whole server), an API service or a model name; "
            f"this server reports {listed}")


def add_health(server: grpc.aio.Server, engine: Engine, api_services: Iterable[str]) -> HealthService:
    """Serve ``grpc.health.v1.Health`` on ``server``; the returned servicer's ``stop_serving`` starts a drain."""
    service = HealthService(engine, api_services)
    health_pb2_grpc.add_HealthServicer_to_server(service, server)
    return service
