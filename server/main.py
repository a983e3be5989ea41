"""The ``ovserve`` command: OVMS flags in, TF Serving gRPC and REST servers out.

Start-up order: validate settings (a bad one exits 2 with one line), open
the REST and gRPC ports at once (liveness answers while models are
discovered or preloaded), then discover models. Both APIs share one event
loop and one engine. ``--port 0`` turns gRPC off, ``--rest_port 0`` REST. SIGTERM or SIGINT at any point stops
accepting, lets in-flight requests finish (at most --shutdown_timeout_seconds)
and exits 0.
"""

from __future__ import annotations

import functools
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
from .lifecycle import Stop, serve_until_stopped
from .metrics_endpoint import SERVER_INTERFACES, SERVER_OUTCOMES, observe
from .process import run

log = logging.getLogger("ovserve.server")


async def _listen(settings: ServerSettings, engine: Engine, tracker: InFlight) -> list[Stop]:
    """Open REST (unless --rest_port 0) and gRPC (unless --port 0) on one loop, for one engine."""
    stops: list[Stop] = []
    if settings.rest_port:
        rest = await start_http(create_app(engine, settings, tracker), settings.rest_bind_address, settings.rest_port)
        stops.append(lambda timeout: stop_http(rest, tracker, timeout))
        log.info("REST server listening", extra={"address": settings.rest_bind_address, "port": settings.rest_port})
    if settings.port:
        from .grpc_api import start_grpc  # grpc loads only when gRPC is served

        grpc_server = await start_grpc(settings, engine, tracker)
        stops.append(grpc_server.stop)  # health turns NOT_SERVING before the grace period starts
        log.info("gRPC server listening", extra={"address": settings.grpc_bind_address, "port": grpc_server.port})
    return stops


async def serve(settings: ServerSettings) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""

    def ready(engine: Engine) -> None:
        log.info("models discovered; serving", extra={"models": [m.name for m in settings.models]})

    await serve_until_stopped(
        settings,
        functools.partial(_listen, settings),
        preload=any(m.preload for m in settings.models),
        ready=ready,
        log=log,
    )


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
    observe(settings, SERVER_OUTCOMES, SERVER_INTERFACES)
    return run(serve(settings), "ovserve")


if __name__ == "__main__":
    sys.exit(main())
