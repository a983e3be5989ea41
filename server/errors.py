"""The one place core errors become HTTP answers: status + ``{"error": message}``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sanic import Request
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, raw

from ovserve.handler.codecs.tfs_json import dumps
from ovserve.handler.errors import OvserveError, http_status

log = logging.getLogger("ovserve.server")



def error_response(status: int, message: str) -> HTTPResponse:
    return raw(dumps({"error": message}), status=status, content_type="application/json")


def exception_handler(body_limit_hint: str) -> Callable[[Request, Exception], HTTPResponse]:
    """The handler for an app whose body limit is raised as ``body_limit_hint`` says."""

    def handler(request: Request, exc: Exception) -> HTTPResponse:
        return _handle(request, exc, body_limit_hint)

    return handler


def handle_exception(request: Request, exc: Exception) -> HTTPResponse:
    """Registered for every exception: known ones keep their meaning, others are a logged 500."""
    return _handle(request, exc, "raise --rest_max_body_mb to allow larger bodies")


def _handle(request: Request, exc: Exception, body_limit_hint: str) -> HTTPResponse:
    if isinstance(exc, OvserveError):
        return error_response(http_status(exc), exc.message)
    if isinstance(exc, SanicException):
        status = getattr(exc, "status_code", 500) or 500
        message = str(exc) or "request failed"
        if status == 413:
            message = f"request body too large: {message}; {body_limit_hint}"
        if status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        if status >= 500:
            log.error("request failed", extra={"path": request.path, "status": status, "reason": message})
        return error_response(status, message)
    log.error("unexpected error", exc_info=exc, extra={"path": request.path})
    return error_response(500, "internal server error; see the server log")
