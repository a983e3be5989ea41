"""One error hierarchy for every transport.

The core raises these; each adapter maps them once (HTTP status, gRPC code,
Lambda response) so a problem reads the same whichever way a client came in.
Messages say what was wrong and what was expected, and never echo payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class ErrorKind(StrEnum):
    """Every category of failure, with the status each transport answers it with.

    The one table: REST, SageMaker, Lambda and gRPC all read it, so the same
    failure gets the same answer whichever way a client came in. A member is
    also its ``str`` name (``ErrorKind.NOT_READY == "not_ready"``) so code and
    logs that compare ``exc.kind`` with a name keep working. The gRPC code is
    a *name* (``grpc.StatusCode[name]``): the core never imports grpc.
    ``sagemaker_status`` is SageMaker's own convention where it differs: 507
    for out of memory is its multi-model router's signal to evict a model.
    """

    http_status: int
    grpc_code: str
    sagemaker_status: int

    def __new__(cls, name: str, http_status: int, grpc_code: str, sagemaker_status: int | None = None) -> ErrorKind:
        member = str.__new__(cls, name)
        member._value_ = name
        member.http_status = http_status
        member.grpc_code = grpc_code
        member.sagemaker_status = sagemaker_status or http_status
        return member

    INVALID_INPUT = ("invalid_input", 400, "INVALID_ARGUMENT")
    NOT_FOUND = ("not_found", 404, "NOT_FOUND")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "UNIMPLEMENTED")
    NOT_ACCEPTABLE = ("not_acceptable", 406, "INVALID_ARGUMENT")
    CONFLICT = ("conflict", 409, "ALREADY_EXISTS")
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "RESOURCE_EXHAUSTED")
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415, "INVALID_ARGUMENT")
    NOT_READY = ("not_ready", 503, "UNAVAILABLE")
    OVERLOADED = ("overloaded", 503, "RESOURCE_EXHAUSTED")
    INSUFFICIENT_RESOURCES = ("insufficient_resources", 503, "RESOURCE_EXHAUSTED", 507)
    CONFIG = ("config", 500, "INTERNAL")
    INTERNAL = ("internal", 500, "INTERNAL")


class OvserveError(Exception):
    """Base class: ``kind`` is the ``ErrorKind`` every adapter answers it with."""

    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OvserveError):
    """The request is malformed or does not fit the model (HTTP 400)."""

    kind = ErrorKind.INVALID_INPUT


class NotFound(OvserveError):
    """The model or version does not exist or is no longer served (HTTP 404)."""

    kind = ErrorKind.NOT_FOUND


class NotReady(OvserveError):
    """The model exists but cannot answer right now (HTTP 503)."""

    kind = ErrorKind.NOT_READY


class Overloaded(OvserveError):
    """Too many requests are waiting; answering fast beats queueing (HTTP 503)."""

    kind = ErrorKind.OVERLOADED


class UnsupportedMediaType(OvserveError):
    """The body's content type is not one the endpoint reads (HTTP 415)."""

    kind = ErrorKind.UNSUPPORTED_MEDIA_TYPE


class PayloadTooLarge(OvserveError):
    """The body exceeds the configured limit (HTTP 413)."""

    kind = ErrorKind.PAYLOAD_TOO_LARGE


class MethodNotAllowed(OvserveError):
    """The path exists but not for this HTTP method (HTTP 405)."""

    kind = ErrorKind.METHOD_NOT_ALLOWED


class NotAcceptable(OvserveError):
    """No response type the client accepts can carry this answer (HTTP 406)."""

    kind = ErrorKind.NOT_ACCEPTABLE


class Conflict(OvserveError):
    """The request clashes with what is already there, e.g. a model loaded twice (HTTP 409)."""

    kind = ErrorKind.CONFLICT


class InsufficientResources(OvserveError):
    """Memory ran out (or a load would exhaust it): not the client's fault, and worth retrying later.

    The one kind for every out-of-memory answer: 503 on the TF Serving REST API,
    ``RESOURCE_EXHAUSTED`` on gRPC, 507 on SageMaker (its signal to evict a model).
    """

    kind = ErrorKind.INSUFFICIENT_RESOURCES


class ModelLoadError(OvserveError):
    """A model version could not be read, reshaped or compiled."""

    kind = ErrorKind.NOT_READY


class StorageError(OvserveError):
    """The place models live cannot be read right now (HTTP 503); never names a secret."""

    kind = ErrorKind.NOT_READY


class ConfigError(OvserveError):
    """A setting is invalid; start-up must stop with this one-line message."""

    kind = ErrorKind.CONFIG


class InternalError(OvserveError):
    """Something failed that the client could not have caused (HTTP 500)."""

    kind = ErrorKind.INTERNAL


# SageMaker's statuses where they differ from the TF Serving APIs' (507 for out of memory), read off the table above:
# what SageMaker's app and Lambda's /invocations pass to ``http_status`` (and Sanic's error handler) as ``overrides``.
SAGEMAKER_HTTP_STATUS: Mapping[ErrorKind, int] = MappingProxyType(
    {kind: kind.sagemaker_status for kind in ErrorKind if kind.sagemaker_status != kind.http_status}
)


def http_status(exc: OvserveError, overrides: Mapping[str, int] | None = None) -> int:
    """The HTTP status for ``exc``; ``overrides`` (kind -> status, e.g. ``SAGEMAKER_HTTP_STATUS``) is a platform's convention."""
    return (overrides or {}).get(exc.kind) or exc.kind.http_status


# How OpenVINO (CPU plugin "Failed to allocate …", std::bad_alloc), numpy ("Unable to allocate …") and the OS (ENOMEM)
# say that memory ran out. Lower case; matched anywhere in the message.
_OUT_OF_MEMORY_WORDS = ("failed to allocate", "unable to allocate", "cannot allocate memory", "bad_alloc", "out of memory")
_ENOMEM = 12


def is_out_of_memory(failure: BaseException | str) -> bool:
    """Whether ``failure`` (an exception, or a failure's message) means memory ran out rather than bad input.

    The one place this is decided, so inference, model loads and every transport
    agree: out of memory is ``InsufficientResources``, never the client's 400.
    """
    if isinstance(failure, MemoryError):
        return True
    if isinstance(failure, OSError) and failure.errno == _ENOMEM:
        return True
    text = (failure if isinstance(failure, str) else str(failure)).lower()
    return any(word in text for word in _OUT_OF_MEMORY_WORDS)
