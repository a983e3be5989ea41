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
from ovserve.server.metrics_endpoint import observe
from ovserve.server.process import run

from . import settings as sagemaker_settings
from .app import INTERFACES, OUTCOMES, create_app
from .scripts import EndpointScripts
from .scripts import discover as discover_scripts
from .settings import SageMakerSettings

log = logging.getLogger("ovserve.sagemaker")


async def serve(settings: SageMakerSettings, listener: socket.socket | None = None, scripts: EndpointScripts | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully; ``listener`` is the port already opened, if any.

    ``scripts``: the endpoint's ``code/inference.py`` (``sagemaker.scripts``), made ready while models load.
    """

    async def listen(engine: Engine, tracker: InFlight) -> list[Stop]:
        http = await start_http(create_app(engine, settings, tracker, scripts), "0.0.0.0", settings.port, sock=listener)
        log.info(
            "SageMaker endpoint listening",
            extra={"port": bound_port(http), "multi_model": settings.multi_model, "batch": settings.batch},
        )
        stops: list[Stop] = [lambda timeout: stop_http(http, tracker, timeout)]
        if scripts is not None:
            stops.append(await scripts.start(engine, tracker))
        return stops

    await serve_until_stopped(settings.server, listen, preload=True, ready=lambda engine: _log_readiness(engine, scripts), log=log)


def _log_readiness(engine: Engine, scripts: EndpointScripts | None = None) -> None:
    """Say what ``/ping`` answers now that every model's versions are known: SageMaker waits on it."""
    reason = engine.not_ready_reason()
    script_reason = scripts.not_ready_reason() if scripts is not None else None
    if reason is None and script_reason is not None:
        log.info("models ready; /ping answers 503 until the script is", extra={"models": engine.model_names(), "reason": script_reason})
    elif reason is None:
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
    observe(settings.server, OUTCOMES, INTERFACES)
    try:
        scripts = discover_scripts(settings)  # file checks only; nothing of the script machinery loads without a script
    except ConfigError as exc:
        print(f"ovserve serve: {exc.message}", file=sys.stderr)
        return 2
    code = run(serve(settings, listener, scripts), "ovserve serve")
    if code == 0 and scripts is not None and scripts.failure is not None:
        print(f"ovserve serve: {getattr(scripts.failure, 'message', scripts.failure)}", file=sys.stderr)
        return 1
    return code
