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
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ovserve.handler import logs
from ovserve.handler.errors import OvserveError, http_status
from ovserve.handler.failures import error_body

from . import direct, http_events, http_routes, response_size, s3_batch
from . import settings as lambda_settings
from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")
JSON = "application/json"


def _init() -> Runtime:
    lambda_settings.writable_home(os.environ)
    settings = lambda_settings.load()
    logs.configure(settings.log_level, None)
    runtime = Runtime(settings)
    snap_start = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"
    runtime.start(compile_now=settings.preload and not snap_start)
    if snap_start:
        from .snapstart import register_hooks

        register_hooks(runtime)
    log.info("init done", extra={"models": [m.name for m in settings.models], "preload": settings.preload})
    return runtime


RUNTIME = _init()


def handler(event: Any, context: Any = None) -> Any:
    """Answer one event (see the module docstring for the kinds)."""
    if http_events.is_http(event):
        try:
            request = http_events.parse(event)
        except OvserveError as exc:  # a malformed event: the caller's 400, nothing for the log
            return http_events.response(http_events.version_of(event), http_status(exc), error_body(exc.message), JSON)
        status, body, content_type, headers = RUNTIME.run(http_routes.route(RUNTIME, request))
        return _returnable(http_events.response(request.version, status, body, content_type, headers), request.version)
    if s3_batch.is_s3(event):
        return RUNTIME.run(s3_batch.process(RUNTIME, event))
    return RUNTIME.run(direct.invoke(RUNTIME, event))


def _returnable(response: dict, version: str) -> dict:
    """``response``, or a 413 when its JSON document is more than Lambda returns (that would crash the runtime)."""
    limit = RUNTIME.settings.max_response_bytes
    size = response_size.http_response_size(response, limit)
    if size is None:
        return response
    hint = "" if response["isBase64Encoded"] else " or ask for a binary type (Accept: application/x-npy)"
    message = (f"the answer is {size} bytes as Lambda's response document (base64 and JSON escaping included) and "
               f"Lambda returns at most {limit}; send fewer records per request{hint}")
    log.warning("answer too large to return", extra={"bytes": size, "limit": limit})
    return http_events.response(version, 413, error_body(message), JSON)
