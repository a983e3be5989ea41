"""AWS's TF Serving container styles: ``handler(data, context)``, and ``input_handler`` + ``output_handler``.

``data`` is the request body as a stream (``data.read()``), as AWS passes
falcon's. ``handler`` does the whole request itself, typically posting to
``context.rest_uri`` with ``requests`` or calling ``context.grpc_port``: the
loopback servers answer, and the script runs on a script thread, so the event
loop is free to serve that call.

For the pair, AWS POSTs ``input_handler``'s body to TF Serving and hands the
``requests.Response`` to ``output_handler``. Here the body goes straight to
the in-process predict of ``context.rest_uri``'s model, version and method
(the same parsing and errors as the TF Serving REST API), and
``output_handler`` gets a ``ScriptResponse`` with that answer. When that
predict fails, ``output_handler`` still sees the failed response, as on AWS,
but the request keeps the predict's status (a bad tensor stays 400) unless the
script returns a status of its own; if it raises, the predict's error is the
answer, which says what was wrong with the input.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import orjson

from .. import versions
from ..errors import SAGEMAKER_HTTP_STATUS, NotFound, OvserveError, http_status
from ..failures import error_body
from ..protocols import tfs_rest
from . import answers
from .answers import ScriptAnswer, ScriptFailed
from .calls import call
from .context import Context
from .loading import Script
from .model_handle import Serving
from .response import ScriptResponse

log = logging.getLogger("ovserve.scripts")


def run_handler(script: Script, body: bytes, context: Context) -> ScriptAnswer:
    """``handler(data, context)``: the script answers the whole request."""
    returned = call(script.label, script.hooks["handler"], None, io.BytesIO(body), context)
    return answers.from_return(returned, script.label, "handler", context.accept_header)


def _payload(value: Any, script: str) -> bytes:
    """What ``input_handler`` returned, as the bytes ``requests.post(data=...)`` would have sent (dicts as JSON)."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise ScriptFailed(f"{script}: input_handler returned a {type(value).__name__} that is not JSON: {exc}") from None
    if hasattr(value, "read"):
        return _payload(value.read(), script)
    if isinstance(value, Iterable):
        return b"".join(_payload(part, script) for part in value)
    raise ScriptFailed(f"{script}: input_handler returned a {type(value).__name__}; expected the request body as str or bytes")


def _predict(serving: Serving, payload: bytes, context: Context) -> ScriptResponse:
    """The TF Serving REST predict ``context.rest_uri`` names, in process; a failure is a failed response."""
    engine = serving.engine
    try:
        if context.method != "predict":
            raise NotFound(f"':{context.method}' is not available; this server implements :predict")
        version = versions.from_text(context.model_version) if context.model_version else None
        body = serving.bridge.call(lambda: tfs_rest.predict(engine, context.model_name or "", version, payload, None))
    except OvserveError as exc:
        response = ScriptResponse(http_status(exc), error_body(exc.message), context.rest_uri)
        response.failure = exc
        return response
    return ScriptResponse(200, body, context.rest_uri)


def run_pair(script: Script, serving: Serving, body: bytes, context: Context) -> ScriptAnswer:
    """``input_handler``, the in-process predict, ``output_handler``."""
    processed = call(script.label, script.hooks["input_handler"], None, io.BytesIO(body), context)
    response = _predict(serving, _payload(processed, script.label), context)
    output_handler = script.hooks["output_handler"]
    if response.failure is None:
        returned = call(script.label, output_handler, None, response, context)
        return answers.from_return(returned, script.label, "output_handler", context.accept_header)
    try:
        returned = output_handler.function(response, context)
    except (Exception, SystemExit) as exc:  # the script gave up on a failed predict: that failure says what was wrong
        log.debug("output_handler raised on a failed predict", extra={"script": script.label, "exception": answers.describe(exc)})
        raise response.failure from None
    answer = answers.from_return(returned, script.label, "output_handler", context.accept_header)
    if isinstance(returned, tuple) and len(returned) == 3:
        return answer  # the script chose the status
    return replace(answer, status=http_status(response.failure, SAGEMAKER_HTTP_STATUS))  # type: ignore[arg-type]
