"""``code/inference.py`` in a Lambda image: the same script as on SageMaker, for HTTP and direct invocations.

Init (the handler module's import) finds ``code/`` beside the model
(``MODEL_PATH``, ``/opt/ml/model`` in the image), installs its
``requirements.txt`` under ``/tmp`` (better: bake packages into the image, or
ship ``code/lib``: init has 10 seconds), imports the script and runs a
toolkit ``model_fn``. A broken script fails the init phase with its message
(its traceback in the log), before any request. The loopback TF Serving REST
API (``loopback_rest``) answers ``context.rest_uri``; ``context.grpc_port``
is served when the image has ``grpcio`` (it is not in the ``lambda`` extra), and None otherwise.

- HTTP events: ``POST /invocations`` goes through the script, which sees the
  whole body and the request's headers; every other path is ovserve's own.
- Direct invocations: the event, without ``"model_name"`` and
  ``"model_version"``, is the script's JSON body; those two become the
  ``tfs-model-name``/``tfs-model-version`` custom attributes, so the context
  names them. A JSON answer is returned as an object, any other as text; an
  answer of 400 or more raises, as ovserve's own direct invocations do.
- S3 events are ovserve's batch processing and do not run the script.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from ovserve.handler.codecs import media_types
from ovserve.handler.errors import (
    SAGEMAKER_HTTP_STATUS,
    InternalError,
    InvalidInput,
    NotFound,
    NotReady,
    OvserveError,
    PayloadTooLarge,
    http_status,
)
from ovserve.handler.failures import error_body, failure_of, log_failure
from ovserve.handler.scripts import discovery
from ovserve.handler.scripts import settings as script_settings
from ovserve.handler.settings.model_location import DEFAULT_DIR

from . import http_routes
from .http_events import HttpRequest
from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")
JSON = "application/json"
_BY_STATUS: dict[int, type[OvserveError]] = {400: InvalidInput, 404: NotFound, 413: PayloadTooLarge, 503: NotReady}


class LambdaScripts:
    """The function's script, ready to answer; ``host`` lives on the runtime's loop."""

    def __init__(self, runtime: Runtime, host: Any) -> None:
        self.runtime = runtime
        self.host = host


def _model_folder() -> Path | None:
    for name in ("OVSERVE_MODEL_PATH", "MODEL_PATH"):
        given = os.environ.get(name)
        if given:
            folder = Path(given.removeprefix("file://"))
            return folder if "://" not in given.removeprefix("file://") and folder.is_dir() else None
    return Path(DEFAULT_DIR) if Path(DEFAULT_DIR).is_dir() else None


def start(runtime: Runtime) -> LambdaScripts | None:
    """At init: the script beside the model, ready (or None when there is none); ScriptError fails the init phase."""
    folder = _model_folder()
    if folder is None:
        return None
    found = script_settings.load()
    code = discovery.for_model(folder, found)
    if code is None:
        return None
    from ovserve.handler.scripts.loading import ScriptError

    host = runtime.run(_host(runtime, found, code))
    try:
        runtime.run(host.prepare(runtime.default_model(), str(folder)))
    except ScriptError as exc:
        if exc.details:
            log.error("script cannot serve", extra={"reason": exc.message, exc.details_field: exc.details})
        raise
    log.info("script ready", extra={"script": code.label})
    return LambdaScripts(runtime, host)


async def _host(runtime: Runtime, found: script_settings.ScriptSettings, code: discovery.CodeFolder) -> Any:
    """The script host, made on the loop (its bridge back to the engine belongs to it)."""
    from ovserve.handler.scripts.host import Loopback, ScriptHost

    servers: list[Any] = []  # held for the environment's life: a gRPC server nobody references is collected, and stops

    async def loopback() -> Loopback:
        from . import loopback_rest

        rest = await loopback_rest.start(runtime.engine, found.rest_port, runtime.settings.max_payload_bytes)
        grpc_server, channel = await _grpc(runtime, found.grpc_port)
        servers.extend((rest, grpc_server))
        grpc_port = grpc_server.port if grpc_server is not None else None
        served = Loopback(rest.sockets[0].getsockname()[1], grpc_port, channel)
        log.info("loopback TF Serving APIs listening for scripts", extra={"rest_uri": served.rest_base, "grpc_port": grpc_port})
        return served

    return ScriptHost(runtime.engine, found, runtime.settings.default_accept, loopback, endpoint=code)


async def _grpc(runtime: Runtime, port: int) -> tuple[Any, Any]:
    """TF Serving gRPC on 127.0.0.1 and a channel to it, when the image has grpcio; (None, None) otherwise."""
    try:
        import grpc

        from ovserve.server.grpc_api import start_grpc
    except ImportError:
        log.info("context.grpc_port is None: this image has no grpcio (add it to the image to serve TF Serving gRPC to scripts)")
        return None, None
    from ovserve.handler.settings.server import ServerSettings
    from ovserve.server.inflight import InFlight

    server = await start_grpc(ServerSettings(models=(), port=port, grpc_bind_address="127.0.0.1"), runtime.engine, InFlight())
    return server, grpc.insecure_channel(f"127.0.0.1:{server.port}")


async def route(scripts: LambdaScripts | None, runtime: Runtime, request: HttpRequest) -> http_routes.Reply:
    """An HTTP event's answer: ``POST /invocations`` through the script when there is one, else ovserve's routes."""
    if scripts is None or request.method != "POST" or request.path.rstrip("/") != "/invocations":
        return await http_routes.route(runtime, request)
    from ovserve.handler.scripts.host import ScriptRequest

    try:
        limit = runtime.settings.max_payload_bytes
        if len(request.body) > limit:
            raise PayloadTooLarge(f"request body is {len(request.body)} bytes; Lambda takes at most {limit} (OVSERVE_MAX_PAYLOAD_MB)")
        answer = await scripts.host.invoke(ScriptRequest(request.body, request.headers), runtime.default_model())
        return answer.status, answer.body, answer.content_type, {}
    except Exception as exc:  # every outcome is an answer, as on the routes without a script
        failure = failure_of(exc, out_of_memory="out of memory while answering this request; retry later or with a smaller request",
                             internal="internal server error; see the function's log")
        status = http_status(failure.error, SAGEMAKER_HTTP_STATUS)
        log_failure(log, failure, status, path=request.path)
        return status, error_body(failure.error.message), JSON, {}


async def direct(scripts: LambdaScripts, event: Any) -> Any:
    """A direct invocation through the script (see the module docstring); errors raise."""
    from ovserve.handler.scripts.host import ScriptRequest

    body = dict(event) if isinstance(event, dict) else event
    attributes = []
    if isinstance(body, dict):
        for field, key in (("model_name", "tfs-model-name"), ("model_version", "tfs-model-version")):
            value = body.pop(field, None)
            if value is not None:
                attributes.append(f"{key}={value}")
    headers = {"content-type": JSON, "accept": JSON}
    if attributes:
        headers["x-amzn-sagemaker-custom-attributes"] = ",".join(attributes)
    runtime = scripts.runtime
    answer = await scripts.host.invoke(ScriptRequest(orjson.dumps(body), headers), runtime.default_model())
    if answer.status >= 400:
        raise _error(answer.status, answer.body)
    if media_types.canonical(answer.content_type) == media_types.JSON:
        try:
            return orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            pass
    return answer.body.decode("utf-8", errors="replace")


def _error(status: int, body: bytes) -> OvserveError:
    """A script's failed answer as the error a direct invocation raises (Lambda's errorType names its kind)."""
    try:
        document = orjson.loads(body)
        message = document["error"] if isinstance(document, dict) and isinstance(document.get("error"), str) else body.decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        message = f"the script answered {status}"
    kind = _BY_STATUS.get(status) or (InvalidInput if status < 500 else InternalError)
    return kind(f"{message} (status {status})")
