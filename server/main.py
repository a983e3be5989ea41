"""The ``ovserve`` command: OVMS flags in, TF Serving gRPC and REST servers out.

Start-up order: validate settings (a bad one exits 2 with one line), open
the REST and gRPC ports at once (liveness answers while models are
discovered or preloaded), then discover models. Both APIs share one event
loop and one engine. ``--port 0`` turns gRPC off, ``--rest_port 0`` REST. SIGTERM or SIGINT at any point stops
accepting, lets in-flight requests finish (at most --shutdown_timeout_seconds)
and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from ovserve.handler import logs
from ovserve.handler.engine import Engine
from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.server import ServerSettings, load_settings

from .app import create_app
from .http_runner import start_http, stop_http
from .inflight import InFlight
from .process import run, start_unless_stopped, stop_signals

log = logging.getLogger("ovserve.server")


async def _start_rest(settings: ServerSettings, engine: Engine, tracker: InFlight):  # -> AsyncioServer
    app = create_app(engine, settings, tracker)
    server = await start_http(app, settings.rest_bind_address, settings.rest_port)
    log.info("REST server listening", extra={"address": settings.rest_bind_address, "port": settings.rest_port})
    return server


async def serve(settings: ServerSettings) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""
    stopping = stop_signals()
    engine = Engine.from_configs(list(settings.models), settings.cpu_extension, settings.storage_cache_dir)
    engine.max_response_bytes = settings.rest_max_response_mb << 20
    tracker = InFlight()
    rest = await _start_rest(settings, engine, tracker) if settings.rest_port else None
    grpc_server = None
    if settings.port:
        from .grpc_api import start_grpc  # grpc loads only when gRPC is served

        grpc_server, grpc_port = await start_grpc(settings, engine, tracker)
        log.info("gRPC server listening", extra={"address": settings.grpc_bind_address, "port": grpc_port})

    preload = any(m.preload for m in settings.models)
    starting = engine.start(preload=preload, poll_seconds=settings.file_system_poll_wait_seconds)
    started, failure = await start_unless_stopped(starting, stopping)
    if started:
        log.info("models discovered; serving", extra={"models": [m.name for m in settings.models]})
        await stopping.wait()

    log.info("stopping: no new connections; waiting for requests in flight", extra={"in_flight": tracker.count})
    timeout = settings.shutdown_timeout_seconds
    stops = []
    if grpc_server is not None:
        stops.append(grpc_server.stop(grace=timeout))
    if rest is not None:
        stops.append(stop_http(rest, tracker, timeout))
    await asyncio.gather(*stops)
    await engine.stop()
    log.info("stopped")
    if failure is not None:
        raise failure  # e.g. StorageError: a bucket that cannot be listed at start-up


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    try:
        settings = load_settings(sys.argv[1:] if argv is None else argv)
        if settings.rest_port == 0 and settings.port == 0:
            raise ConfigError("--port/--rest_port: both are 0; expected at least one API port (gRPC on --port, REST on --rest_port)")
    except ConfigError as exc:
        print(f"ovserve: {exc.message}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_path)
    return run(serve(settings), "ovserve")


if __name__ == "__main__":
    sys.exit(main())
