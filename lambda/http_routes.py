"""The paths a Lambda answers over HTTP: TF Serving's REST API, SageMaker's ``/invocations`` and health.

Routes and semantics are the standalone server's and the SageMaker
container's (shared in ``handler``); errors become ``{"error": message}``
with the same status codes. Readiness (``/v2/health/ready`` and, as on
SageMaker, ``/ping``) is the engine's ``not_ready_reason``; liveness
(``/v2/health/live``) is 200 whenever the environment answers at all. A
function serves the models it was deployed with: KServe v2's model repository
extension (``/v2/repository/...``) answers 404 here and is not listed in ``GET /v2``.
"""

from __future__ import annotations

import logging

from ovserve.handler.errors import SAGEMAKER_HTTP_STATUS, ErrorKind, NotFound, PayloadTooLarge, http_status
from ovserve.handler.failures import error_body, failure_of, log_failure
from ovserve.handler.protocols import custom_attributes, invocations, tfs_rest, v2_rest

from .http_events import HttpRequest
from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")
JSON = "application/json"


Reply = tuple[int, bytes, str, dict[str, str]]  # status, body, content type, other response headers
_NO_HEADERS: dict[str, str] = {}


async def route(runtime: Runtime, request: HttpRequest) -> Reply:
    """(status, body, content type, headers) for one request; never raises."""
    try:
        limit = runtime.settings.max_payload_bytes
        if len(request.body) > limit:
            raise PayloadTooLarge(
                f"request body is {len(request.body)} bytes; Lambda takes at most {limit} (OVSERVE_MAX_PAYLOAD_MB); "
                "send fewer records per request, or a binary type such as application/x-npy"
            )
        return await _dispatch(runtime, request)  # the answer's size is checked once it is an event response
    except Exception as exc:  # a bug must still answer like a server, not crash the environment
        failure = failure_of(exc, out_of_memory="out of memory while answering this request; retry later or with a "
                             "smaller request", internal="internal server error; see the function's log")
        # /invocations keeps SageMaker's statuses (507 for out of memory), the TF Serving paths their own (503).
        status = http_status(failure.error, SAGEMAKER_HTTP_STATUS if request.path.rstrip("/") == "/invocations" else None)
        log_failure(log, failure, status, path=request.path)
        return status, error_body(failure.error.message), JSON, _NO_HEADERS


async def _dispatch(runtime: Runtime, request: HttpRequest) -> Reply:
    engine, path = runtime.engine, request.path.rstrip("/") or "/"
    if v2_rest.handles(path):  # KServe v2, as the standalone server answers it (framing by header, never by type)
        answer = await v2_rest.handle(engine, request.method, path, request.body,
                                      request.headers.get("inference-header-content-length"),
                                      request.headers.get("content-encoding"), repository=False)
        return answer.status, answer.body, answer.content_type, answer.headers
    if path.startswith("/v1/models/"):
        body = await tfs_rest.handle(engine, request.method, path[len("/v1/models/"):], request.body,
                                     request.headers.get("content-type"), path)
        return 200, body, JSON, _NO_HEADERS
    if path == "/invocations" and request.method == "POST":
        defaults = invocations.Defaults(runtime.settings.default_accept, runtime.default_model())
        answer = await invocations.invoke(engine, request.body, request.headers.get("content-type"),
                                          request.headers.get("accept"), request.headers.get(custom_attributes.HEADER), defaults)
        return 200, answer.body, answer.content_type, _NO_HEADERS
    if path == "/ping" and request.method == "GET":  # as SageMaker's: 200 only when ready
        reason = engine.not_ready_reason()
        if reason is None:
            return 200, b"", JSON, _NO_HEADERS
        return ErrorKind.NOT_READY.http_status, error_body(f"not ready: {reason}"), JSON, _NO_HEADERS
    if path == "/v1/config" and request.method == "GET":
        return 200, tfs_rest.config(engine), JSON, _NO_HEADERS
    raise NotFound(f"no such endpoint: {request.method} {path}; expected /v1/models/..., /v2/..., /invocations or /ping")
