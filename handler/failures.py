"""What every transport answers and logs when a request fails: one body, one log decision.

REST, SageMaker, Lambda and gRPC each caught failures their own way; they
built ``{"error": message}`` bodies in three places and only Lambda logged
its 5xx answers. Here each failure becomes the ``OvserveError`` a client is
told (``failure_of``), one body (``error_body``), and at most one log record
with the same fields everywhere (``log_failure``): bugs and 5xx answers (503s
for shed load or models still loading at WARNING, the rest at ERROR), a
client's own 4xx not at all. Messages never echo payloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from .errors import ErrorKind, InsufficientResources, InternalError, OvserveError, is_out_of_memory

_CAUSE_CHARS = 200  # enough to tell which allocation failed; never a payload's worth
_EXPECTED_UNAVAILABLE = frozenset({ErrorKind.NOT_READY, ErrorKind.OVERLOADED})


def error_body(message: str) -> bytes:
    """``{"error": message}`` as JSON: the one error body of every HTTP-shaped answer (REST, SageMaker, Lambda)."""
    return orjson.dumps({"error": message})


@dataclass(frozen=True)
class Failure:
    """One failed request: ``error`` is what the client is told, ``cause`` what was raised if that was not an ``OvserveError``."""

    error: OvserveError
    cause: BaseException | None = None

    @property
    def unexpected(self) -> bool:
        """A bug (neither an ``OvserveError`` nor memory running out): logged with its traceback."""
        return self.cause is not None and not is_out_of_memory(self.cause)


def failure_of(exc: BaseException, *, out_of_memory: str, internal: str) -> Failure:
    """``exc`` as a client should read it: itself, ``InsufficientResources`` when memory ran out, else a 500.

    ``out_of_memory`` and ``internal`` are the messages for the last two, in the
    transport's words ("this call", "see the function's log").
    """
    if isinstance(exc, OvserveError):
        return Failure(exc)
    if is_out_of_memory(exc):  # e.g. numpy's MemoryError while building an answer: the same kind as OpenVINO's
        return Failure(InsufficientResources(out_of_memory), exc)
    return Failure(InternalError(internal), exc)


def logs_as_error(failure: Failure, status: int | None = None) -> bool:
    """Whether ``failure`` is logged at ERROR: a bug, or a 5xx (the server's fault); a 4xx is the client's, not the log's.

    ``status`` is the HTTP status answered (SageMaker's 507, a Sanic 5xx); without
    one (gRPC) the kind's own HTTP status decides, so every transport agrees.
    """
    return failure.unexpected or (status if status is not None else failure.error.kind.http_status) >= 500


def log_failure(log: logging.Logger, failure: Failure, status: int | None = None, **where: object) -> None:
    """Log ``failure`` once if ``logs_as_error`` says so, with the same fields on every transport.

    ``where`` names the request without its payload (``path=`` on HTTP,
    ``method=`` and ``code=`` on gRPC). The fields are ``kind``, ``reason`` (the
    message the client got), ``status`` when there is one, and ``cause`` when
    memory ran out outside the core (the first characters of the original message).
    """
    if not logs_as_error(failure, status):
        return
    fields: dict[str, object] = {**where, "kind": failure.error.kind.value, "reason": failure.error.message}
    if status is not None:
        fields["status"] = status
    if failure.unexpected:
        log.error("unexpected error", exc_info=failure.cause, extra=fields)
        return
    if failure.cause is not None:
        fields["cause"] = str(failure.cause)[:_CAUSE_CHARS]
    # Shedding load and answering while models load are the server working as designed: one WARNING per request keeps
    # them visible without paging anyone; memory running out and internal errors are ERRORs.
    level = logging.WARNING if failure.error.kind in _EXPECTED_UNAVAILABLE else logging.ERROR
    log.log(level, "request failed", extra=fields)
