"""``code/inference.py`` on a SageMaker endpoint: finding it, the loopback TF Serving servers, and start-up.

``discover`` runs before the event loop starts: plain file checks, so an
endpoint without a script pays nothing more (the script machinery, the TF
Serving REST routes and gRPC are imported only when a script exists, and on a
multi-model endpoint only when a loaded model brings one). With a script:

- the loopback TF Serving REST and gRPC APIs (the standalone server's own
  ``register_tfs_endpoints`` and ``start_grpc``, on this loop and this engine)
  listen on 127.0.0.1 at AWS's ports (see ``handler.scripts.settings``), so
  ``context.rest_uri`` and ``context.grpc_port`` answer;
- the script is made ready in the background while models compile: ``/ping``
  answers 503 saying what is under way (installing requirements, importing,
  ``model_fn``) until both are done;
- a script that cannot serve (pip failed, the import raised, no handler)
  stops the process as SIGTERM would, with its traceback in the log, and
  ``serve`` exits 1 with the reason on stderr;
- at a stop, the loopback servers close only after the requests in flight
  (whose scripts may still be calling them) are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Request
from sanic.response import HTTPResponse, raw

from ovserve.handler.engine import Engine
from ovserve.handler.scripts import discovery
from ovserve.handler.scripts import settings as script_settings
from ovserve.handler.scripts.discovery import CodeFolder
from ovserve.handler.scripts.settings import ScriptSettings
from ovserve.server.inflight import InFlight

from .settings import SageMakerSettings

if TYPE_CHECKING:
    from ovserve.handler.scripts.host import Loopback, ScriptHost

log = logging.getLogger("ovserve.sagemaker")


def _code_root(settings: SageMakerSettings) -> Path | None:
    """The folder SageMaker extracted model.tar.gz into: config.json's, or the one model's (None: remote or an archive)."""
    server = settings.server
    if server.config_path:
        return Path(server.config_path).parent
    if len(server.models) != 1:
        return None
    base = server.models[0].base_path
    if "://" in base and not base.startswith("file://"):
        return None
    folder = Path(base.removeprefix("file://"))
    return folder if folder.is_dir() else None


def discover(settings: SageMakerSettings) -> EndpointScripts | None:
    """The endpoint's scripts, or None when it has none (a multi-model endpoint always gets one: models bring theirs)."""
    found = script_settings.load()
    if settings.multi_model:
        return EndpointScripts(settings, found, None, discovery.universal(found), None)
    root = _code_root(settings)
    if root is None:
        return None
    code = discovery.for_model(root, found)
    if code is None:
        for path in discovery.misplaced(root, found.program):
            log.warning("a script is not where SageMaker scripts belong, so it is not used",
                        extra={"found": str(path), "expected": str(root / "code" / found.program)})
        return None
    log.info("script found", extra={"script": code.label, "requirements": str(code.requirements or ""), "lib": str(code.lib or "")})
    return EndpointScripts(settings, found, code, None, root)


def _listening(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (0: any free port; Sanic would take 0 to mean its default, 8000)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port} for scripts' TF Serving REST API ({exc.strerror}); "
                      "set OVSERVE_SCRIPT_REST_PORT to a free port, or 0 for any") from None
    return listener


class EndpointScripts:
    """The scripts of one ``serve`` process, and the loopback servers they call."""

    def __init__(self, settings: SageMakerSettings, found: ScriptSettings, endpoint: CodeFolder | None,
                 universal: CodeFolder | None, root: Path | None) -> None:
        self.settings = settings
        self.script_settings = found
        self.endpoint = endpoint
        self.universal = universal
        self.root = root
        self.failure: Exception | None = None  # why start-up's script cannot serve: serve exits 1 with it
        self._host: ScriptHost | None = None
        self._engine: Engine | None = None
        self._tracker: InFlight | None = None
        self._preparing: asyncio.Task | None = None
        self._stops: list[Any] = []
        self._channel: Any = None

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def start(self, engine: Engine, tracker: InFlight) -> Any:
        """Begin making start-up's script ready (nothing, on a multi-model endpoint without a universal one); returns the Stop."""
        self._engine, self._tracker = engine, tracker
        if self.endpoint is not None or self.universal is not None:
            self._ensure_host()
            self._preparing = asyncio.get_running_loop().create_task(self._prepare())
        return self.stop

    def _ensure_host(self) -> ScriptHost:
        if self._host is None:
            from ovserve.handler.scripts.host import ScriptHost

            assert self._engine is not None
            self._host = ScriptHost(self._engine, self.script_settings, self.settings.default_accept, self._start_loopback,
                                    self.endpoint, self.universal)
        return self._host

    def _default_model(self) -> str:
        assert self._engine is not None
        names = self._engine.model_names()
        return self.settings.default_model or (names[0] if names else "")

    async def _prepare(self) -> None:
        from ovserve.handler.scripts.loading import ScriptError

        host = self._ensure_host()
        try:
            await host.prepare(self._default_model(), str(self.root) if self.root else None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ScriptError, or pip that could not even start: the endpoint cannot serve as configured
            self.failure = exc
            details = getattr(exc, "details", "")
            field = getattr(exc, "details_field", "traceback")
            log.error("script cannot serve; stopping", extra={"reason": getattr(exc, "message", str(exc)),
                                                               **({field: details} if details else {})})
            if not isinstance(exc, ScriptError):
                log.error("script preparation failed", exc_info=exc)
            os.kill(os.getpid(), signal.SIGTERM)  # the serving life's own stop: drain, then serve() returns

    async def _start_loopback(self) -> Loopback:
        """TF Serving REST and gRPC on 127.0.0.1, for this engine, on this loop."""
        from ovserve.handler.scripts.host import Loopback
        from ovserve.server.errors import exception_handler
        from ovserve.server.grpc_api import start_grpc
        from ovserve.server.http_runner import bound_port, start_http, stop_http
        from ovserve.server.rest import register_tfs_endpoints
        from ovserve.server.sanic_app import build_app

        engine, tracker, server = self._engine, self._tracker, self.settings.server
        assert engine is not None and tracker is not None
        app = build_app("ovserve_script_rest", max_body_mb=server.rest_max_body_mb,
                        errors=exception_handler("raise --rest_max_body_mb to allow larger bodies"))
        app.config.TOUCHUP = False  # Sanic rewrites its shared protocol class for the first app started; twice fails
        register_tfs_endpoints(app, engine, tracker)
        rest = await start_http(app, "127.0.0.1", 0, sock=_listening(self.script_settings.rest_port))
        self._stops.append(lambda: stop_http(rest, tracker, 0))
        grpc_server = await start_grpc(replace(server, port=self.script_settings.grpc_port, grpc_bind_address="127.0.0.1"),
                                       engine, tracker)
        self._stops.append(lambda: grpc_server.stop(0))
        channel = None
        if not self.settings.multi_model:  # AWS hands single-model scripts a ready channel; it connects on first use
            import grpc

            channel = self._channel = grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}")
        loopback = Loopback(bound_port(rest), grpc_server.port, channel)
        log.info("loopback TF Serving APIs listening for scripts",
                 extra={"rest_uri": loopback.rest_base, "grpc_port": loopback.grpc_port})
        return loopback

    async def stop(self, timeout: float) -> None:
        """After the requests in flight (their scripts may still call the loopback servers), close those servers."""
        if self._preparing is not None and not self._preparing.done():
            self._preparing.cancel()
            with contextlib.suppress(BaseException):
                await self._preparing
        if self._tracker is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._tracker.idle(), timeout=timeout)
        for stop in self._stops:
            with contextlib.suppress(Exception):
                await stop()
        if self._channel is not None:
            self._channel.close()

    # -- readiness and requests ------------------------------------------------------------------------------------

    def not_ready_reason(self) -> str | None:
        return self._host.not_ready_reason() if self._host is not None else None

    def handles(self, model: str | None) -> bool:
        """Whether a script answers this request (``model``: a multi-model path's; None: ``/invocations``)."""
        return self._host is not None and self._host.serves(model)

    async def invoke(self, request: Request, model: str | None) -> HTTPResponse:
        from ovserve.handler.scripts.host import ScriptRequest

        host = self._ensure_host()
        answer = await host.invoke(ScriptRequest(request.body, dict(request.headers.items()), model), model or self._default_model())
        return raw(answer.body, status=answer.status, content_type=answer.content_type)

    async def load(self, name: str, url: str) -> None:
        """A multi-model load: the model's own ``code/`` (or the universal script) is made ready for it.

        A script that cannot serve refuses the load with 400 naming the file and the problem.
        """
        folder = Path(url.removeprefix("file://"))
        if "://" in url and not url.startswith("file://"):
            return
        if discovery.for_model(folder, self.script_settings, submit_directory=False) is None and self.universal is None:
            return  # the common case: no script, nothing imported
        from ovserve.handler.errors import InvalidInput
        from ovserve.handler.scripts.loading import ScriptError

        try:
            label = await self._ensure_host().load_model(name, str(folder))
        except ScriptError as exc:
            if exc.details:
                log.error("model's script cannot serve", extra={"model": name, "reason": exc.message, exc.details_field: exc.details})
            raise InvalidInput(f"model {name} cannot be loaded: {exc.message}") from None
        if label is not None:
            log.info("model's script ready", extra={"model": name, "script": label})

    def unload(self, name: str) -> None:
        if self._host is not None:
            self._host.unload_model(name)
