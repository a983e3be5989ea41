"""``serve``: the SageMaker hosting, multi-model and batch transform container.

The port is bound first (SageMaker expects connections within 250 ms and
polls ``/ping`` from then on); models load in the background and ``/ping``
turns 200 when they can serve. SIGTERM, which SageMaker follows with SIGKILL
30 s later, stops accepting, lets requests in flight finish (at most
``--shutdown_timeout_seconds``, 25 by default) and exits 0.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence

from ovserve.handler import logs
from ovserve.handler.engine import Engine
from ovserve.handler.errors import ConfigError
from ovserve.server.http_runner import bound_port, start_http, stop_http
from ovserve.server.inflight import InFlight
from ovserve.server.lifecycle import Stop, serve_until_stopped
from ovserve.server.process import run

from . import settings as sagemaker_settings
from .app import create_app
from .settings import SageMakerSettings

log = logging.getLogger("ovserve.sagemaker")


async def serve(settings: SageMakerSettings, listener: socket.socket | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully; ``listener`` is the port already opened, if any."""

    async def listen(engine: Engine, tracker: InFlight) -> list[Stop]:
        http = await start_http(create_app(engine, settings, tracker), "0.0.0.0", settings.port, sock=listener)
        log.info(
            "SageMaker endpoint listening",
            extra={"port": bound_port(http), "multi_model": settings.multi_model, "batch": settings.batch},
        )
        return [lambda timeout: stop_http(http, tracker, timeout)]

    await serve_until_stopped(settings.server, listen, preload=True, ready=_log_readiness, log=log)


def _log_readiness(engine: Engine) -> None:
    """Say what ``/ping`` answers now that every model's versions are known: SageMaker waits on it."""
    reason = engine.not_ready_reason()
    if reason is None:
        log.info("ready: /ping answers 200", extra={"models": engine.model_names()})
    else:
        log.error("not ready: /ping answers 503", extra={"reason": reason})


def main(argv: Sequence[str], listener: socket.socket | None = None) -> int:
    """``serve [OVMS flags]``; returns the exit code (2 for bad settings, 1 when models cannot be reached)."""
    try:
        settings = sagemaker_settings.load(argv)
    except ConfigError as exc:
        print(f"ovserve serve: {exc.message}", file=sys.stderr)
        return 2
    if listener is not None and listener.getsockname()[1] != settings.port:
        listener.close()  # the port was opened for another value; serve binds its own
        listener = None
    logs.configure(settings.server.log_level, settings.server.log_path)
    return run(serve(settings, listener), "ovserve serve")
