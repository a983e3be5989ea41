"""One error hierarchy for every transport.

The core raises these; each adapter maps them once (HTTP status, gRPC code,
Lambda response) so a problem reads the same whichever way a client came in.
Messages say what was wrong and what was expected, and never echo payloads.
"""

from __future__ import annotations

from collections.abc import Mapping


class OvserveError(Exception):
    """Base class: ``kind`` names the category adapters map to a status."""

    kind = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OvserveError):
    """The request is malformed or does not fit the model (HTTP 400)."""

    kind = "invalid_input"


class NotFound(OvserveError):
    """The model or version does not exist or is no longer served (HTTP 404)."""

    kind = "not_found"


class NotReady(OvserveError):
    """The model exists but cannot answer right now (HTTP 503)."""

    kind = "not_ready"


class Overloaded(OvserveError):
    """Too many requests are waiting; answering fast beats queueing (HTTP 503)."""

    kind = "overloaded"


class UnsupportedMediaType(OvserveError):
    """The body's content type is not one the endpoint reads (HTTP 415)."""

    kind = "unsupported_media_type"


class PayloadTooLarge(OvserveError):
    """The body exceeds the configured limit (HTTP 413)."""

    kind = "payload_too_large"


class MethodNotAllowed(OvserveError):
    """The path exists but not for this HTTP method (HTTP 405)."""

    kind = "method_not_allowed"


class NotAcceptable(OvserveError):
    """No response type the client accepts can carry this answer (HTTP 406)."""

    kind = "not_acceptable"


class Conflict(OvserveError):
    """The request clashes with what is already there, e.g. a model loaded twice (HTTP 409)."""

    kind = "conflict"


class InsufficientResources(OvserveError):
    """Memory ran out (or a load would exhaust it): not the client's fault, and worth retrying later.

    The one kind for every out-of-memory answer: 503 on the TF Serving REST API,
    ``RESOURCE_EXHAUSTED`` on gRPC, 507 on SageMaker (its signal to evict a model).
    """

    kind = "insufficient_resources"


class ModelLoadError(OvserveError):
    """A model version could not be read, reshaped or compiled."""

    kind = "not_ready"


class StorageError(OvserveError):
    """The place models live cannot be read right now (HTTP 503); never names a secret."""

    kind = "not_ready"


class ConfigError(OvserveError):
    """A setting is invalid; start-up must stop with this one-line message."""

    kind = "config"


class InternalError(OvserveError):
    """Something failed that the client could not have caused (HTTP 500)."""

    kind = "internal"


# How every HTTP-shaped transport (REST, SageMaker, Lambda's API Gateway answers) reports each kind.
HTTP_STATUS = {
    "invalid_input": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "not_ready": 503,
    "overloaded": 503,
    "insufficient_resources": 503,  # SageMaker's app answers 507 (see http_status's overrides)
    "config": 500,
    "internal": 500,
}


def http_status(exc: OvserveError, overrides: Mapping[str, int] | None = None) -> int:
    """The HTTP status for ``exc``; ``overrides`` (kind -> status) lets a platform keep its own convention."""
    return (overrides or {}).get(exc.kind) or HTTP_STATUS.get(exc.kind, 500)


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
