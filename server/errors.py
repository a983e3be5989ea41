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

from ovserve.handler.codecs.tfs_json import dumps
from ovserve.handler.errors import InsufficientResources, OvserveError, http_status, is_out_of_memory

log = logging.getLogger("ovserve.server")


def error_response(status: int, message: str) -> HTTPResponse:
    return raw(dumps({"error": message}), status=status, content_type="application/json")


def exception_handler(
    body_limit_hint: str, statuses: Mapping[str, int] | None = None
) -> Callable[[Request, Exception], HTTPResponse]:
    """The handler for an app whose body limit is raised as ``body_limit_hint`` says.

    ``statuses`` (error kind -> HTTP status) overrides the core's table where a
    platform has its own convention: SageMaker answers out of memory with 507.
    """
    overrides = dict(statuses or {})

    def handler(request: Request, exc: Exception) -> HTTPResponse:
        return _handle(request, exc, body_limit_hint, overrides)

    return handler


def handle_exception(request: Request, exc: Exception) -> HTTPResponse:
    """Registered for every exception: known ones keep their meaning, others are a logged 500."""
    return _handle(request, exc, "raise --rest_max_body_mb to allow larger bodies", {})


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
    if isinstance(exc, OvserveError):
        return error_response(http_status(exc, overrides), exc.message)
    if isinstance(exc, SanicException):
        status = getattr(exc, "status_code", 500) or 500
        message = str(exc) or "request failed"
        if status == 413 and "header" in message.lower():
            return _oversized_head(request)
        if status == 413:
            message = f"request body too large: {message}; {body_limit_hint}"
        if status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        if status >= 500:
            log.error("request failed", extra={"path": request.path, "status": status, "reason": message})
        return error_response(status, message)
    if is_out_of_memory(exc):  # e.g. numpy's MemoryError while building an answer
        log.warning("out of memory", extra={"path": request.path, "reason": str(exc)[:200]})
        failure = InsufficientResources("out of memory while answering this request; retry later or with a smaller request")
        return _handle(request, failure, body_limit_hint, overrides)
    log.error("unexpected error", exc_info=exc, extra={"path": request.path})
    return error_response(500, "internal server error; see the server log")
