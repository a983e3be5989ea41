"""The Lambda entry point: ``ovserve.aws_lambda.handler.handler``.

Init (module import) validates the settings and finds the model: a bad
``MODEL_PATH`` fails the init phase with a clear message, before any request.
The model compiles on the first request, or during init with ``PRELOAD=1``
(or before a SnapStart snapshot). A compiled-model cache baked into the image
(``python -m ovserve.aws_lambda.bake``) makes that compile a cache load.
Only what an invocation needs is imported: no web framework, no gRPC, and
boto3 only for S3 models and S3 events.

Events: API Gateway REST (v1), HTTP API (v2) and function URLs get HTTP
answers (errors as status codes); S3 notifications process objects; anything
else is a direct invocation with a TF Serving JSON body (errors raise).

Each invocation runs under one request id (``request_ids``: the caller's
``x-request-id``, the gateway's id or Lambda's), echoed as ``x-request-id``
on HTTP answers and carried on every log line; with ``OVSERVE_EMF_NAMESPACE``
set it ends with one CloudWatch metrics line (``emf``).

A ``code/inference.py`` beside the model (SageMaker's TF Serving contract,
``scripts``) is imported during init, so a broken script fails the init
phase, and then answers HTTP ``/invocations`` and direct invocations.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ovserve.handler import logs, request_context
from ovserve.handler.errors import OvserveError, http_status
from ovserve.handler.failures import error_body

from . import direct, emf, http_events, invocation, request_ids, response_size, s3_batch
from . import scripts as lambda_scripts
from . import settings as lambda_settings
from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")
JSON = "application/json"
INVOKE, S3 = "Invoke", "S3"  # the request context's interface for direct invocations and S3 events (HTTP is REST)


def _init() -> Runtime:
    lambda_settings.writable_home(os.environ)
    settings = lambda_settings.load()
    logs.configure(settings.log_level, None)
    invocation.log_both_ids()
    runtime = Runtime(settings)
    snap_start = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"
    runtime.start(compile_now=settings.preload and not snap_start)
    if snap_start:
        from .snapstart import register_hooks

        register_hooks(runtime)
    log.info("init done", extra={"models": [m.name for m in settings.models], "preload": settings.preload})
    return runtime


RUNTIME = _init()
SCRIPTS = lambda_scripts.start(RUNTIME)  # code/inference.py beside the model, imported during init (None: none)


def handler(event: Any, context: Any = None) -> Any:
    """Answer one event (see the module docstring for the kinds)."""
    started = time.perf_counter()
    aws_request_id = request_ids.of_lambda(context)
    if http_events.is_http(event):
        return _http(event, aws_request_id, started)
    if s3_batch.is_s3(event):
        return _event(S3, aws_request_id, started, lambda: RUNTIME.run(s3_batch.process(RUNTIME, event)))
    return _event(INVOKE, aws_request_id, started, lambda: RUNTIME.run(
        lambda_scripts.direct(SCRIPTS, event) if SCRIPTS is not None else direct.invoke(RUNTIME, event)))


def _http(event: dict, aws_request_id: str | None, started: float) -> dict:
    """An HTTP event's answer, with ``x-request-id`` on it; every outcome is an answer, never an exception."""
    try:
        request: http_events.HttpRequest | None = http_events.parse(event)
        malformed = None
    except OvserveError as exc:  # a malformed event: the caller's 400, nothing for the log
        request, malformed = None, exc
    with invocation.serving(request_ids.for_http(event, request, aws_request_id), aws_request_id,
                            request_context.REST) as current:
        echo = {request_ids.HEADER: current.request_id}
        if request is None:
            assert malformed is not None
            version = http_events.version_of(event)
            answer = http_events.response(version, http_status(malformed), error_body(malformed.message), JSON, echo)
        else:
            version = request.version
            status, body, content_type, headers = RUNTIME.run(lambda_scripts.route(SCRIPTS, RUNTIME, request))
            answer = _returnable(http_events.response(version, status, body, content_type, {**headers, **echo}), version, echo)
        status = answer["statusCode"]
        _finish(current, started, status, errors=int(status >= 400))
        return answer


def _event(interface: str, aws_request_id: str | None, started: float, run: Callable[[], Any]) -> Any:
    """A direct invocation's or S3 event's answer; its errors still raise (Lambda reports them), after its metrics."""
    with invocation.serving(aws_request_id, aws_request_id, interface, "Predict") as current:
        status, errors = 500, 1
        try:
            answer = run()
            status, errors = 200, 0
            return answer
        except s3_batch.BatchFailed as exc:
            errors = exc.failed
            raise
        except OvserveError as exc:
            status = http_status(exc)
            raise
        finally:
            _finish(current, started, status, errors)


def _finish(current: invocation.Invocation, started: float, status: int, errors: int) -> None:
    """The invocation's closing debug line and, when enabled, its metrics line."""
    latency_ms = (time.perf_counter() - started) * 1000
    if log.isEnabledFor(logging.DEBUG):
        log.debug("invocation done", extra={"interface": current.interface, "status": status, "records": current.records,
                                            "ms": round(latency_ms, 3)})
    settings = RUNTIME.settings.emf
    if settings is not None:
        emf.emit(settings, emf.Outcome(current.interface, status, errors, current.records, current.model, current.version,
                                       latency_ms, current.request_id, current.aws_request_id))


def _returnable(response: dict, version: str, echo: dict[str, str]) -> dict:
    """``response``, or a 413 carrying ``echo`` when its JSON document is more than Lambda returns (that would crash the runtime)."""
    limit = RUNTIME.settings.max_response_bytes
    size = response_size.http_response_size(response, limit)
    if size is None:
        return response
    hint = "" if response["isBase64Encoded"] else " or ask for a binary type (Accept: application/x-npy)"
    message = (f"the answer is {size} bytes as Lambda's response document (base64 and JSON escaping included) and "
               f"Lambda returns at most {limit}; send fewer records per request{hint}")
    log.warning("answer too large to return", extra={"bytes": size, "limit": limit})
    return http_events.response(version, 413, error_body(message), JSON, echo)
