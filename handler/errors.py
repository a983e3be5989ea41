"""One error hierarchy for every transport.

The core raises these; each adapter maps them once (HTTP status, gRPC code,
Lambda response) so a problem reads the same whichever way a client came in.
Messages say what was wrong and what was expected, and never echo payloads.
"""

from __future__ import annotations


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
    """Loading would exhaust memory; the caller should free some first (HTTP 507)."""

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
    "insufficient_resources": 507,
    "config": 500,
    "internal": 500,
}


def http_status(exc: OvserveError) -> int:
    return HTTP_STATUS.get(exc.kind, 500)
