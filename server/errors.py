"""The one place core errors become HTTP answers: status + ``{"error": message}``.

Besides the core's errors, this names Sanic's own refusals truthfully: an
over-long request line or header block is raised by Sanic as a 413 before any
route runs, which would send clients off to raise the *body* limit; here it is
414 (URL) or 431 (headers) with the limit that actually applies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sanic import Request
from sanic.exceptions import SanicException
from sanic.http import Http
from sanic.response import HTTPResponse, raw

from ovserve.handler.errors import SAGEMAKER_HTTP_STATUS, InternalError, http_status
from ovserve.handler.failures import Failure, error_body, failure_of, log_failure

log = logging.getLogger("ovserve.server")


def error_response(status: int, message: str) -> HTTPResponse:
    """``status`` with the core's one error body, so Sanic's answers read like Lambda's."""
    return raw(error_body(message), status=status, content_type="application/json")


def exception_handler(body_limit_hint: str, *, sagemaker: bool = False) -> Callable[[Request, Exception], HTTPResponse]:
    """The handler for an app whose body limit is raised as ``body_limit_hint`` says.

    ``sagemaker`` answers with SageMaker's statuses from the core's table
    (``SAGEMAKER_HTTP_STATUS``: 507 for out of memory) rather than the TF Serving API's.
    """
    overrides = SAGEMAKER_HTTP_STATUS if sagemaker else {}

    def handler(request: Request, exc: Exception) -> HTTPResponse:
        return _handle(request, exc, body_limit_hint, overrides)

    return handler


def _oversized_head(request: Request) -> HTTPResponse:
    """Sanic's "Request header exceeds the size limit": 414 when the request line alone is too long, else 431.

    The head was never parsed, so the bytes Sanic buffered tell which part overflowed.
    """
    limit = Http.HEADER_MAX_SIZE
    received = bytes(getattr(request.stream, "recv_buffer", b"") or b"")
    if b"\r\n" not in received[: limit + 2]:
        return error_response(414, f"URL too long: the request line may take at most {limit} bytes; send inputs in the body")
    return error_response(431, f"request headers too large: the request line and headers may take at most {limit} bytes "
                               "in all; send large values in the body")


def _handle(request: Request, exc: Exception, body_limit_hint: str, overrides: Mapping[str, int]) -> HTTPResponse:
    if isinstance(exc, SanicException):
        return _sanic_refusal(request, exc, body_limit_hint)
    failure = failure_of(exc, out_of_memory="out of memory while answering this request; retry later or with a smaller request",
                         internal="internal server error; see the server log")
    status = http_status(failure.error, overrides)
    log_failure(log, failure, status, path=request.path)
    return error_response(status, failure.error.message)


def _sanic_refusal(request: Request, exc: SanicException, body_limit_hint: str) -> HTTPResponse:
    """Sanic's own refusals (413, 405, 404…), with messages that name the limit or method that applies."""
    status = getattr(exc, "status_code", 500) or 500
    message = str(exc) or "request failed"
    if status == 413 and "header" in message.lower():
        return _oversized_head(request)
    if status == 413:
        message = f"request body too large: {message}; {body_limit_hint}"
    if status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    log_failure(log, Failure(InternalError(message)), status, path=request.path)  # logged only when 5xx: the status decides
    return error_response(status, message)
