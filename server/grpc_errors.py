"""The one place core errors become gRPC status codes (same messages as REST)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ovserve.handler.errors import OvserveError

log = logging.getLogger("ovserve.grpc")

GRPC_STATUS = {
    "invalid_input": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "unsupported_media_type": grpc.StatusCode.INVALID_ARGUMENT,
    "payload_too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "not_ready": grpc.StatusCode.UNAVAILABLE,
    "overloaded": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "config": grpc.StatusCode.INTERNAL,
    "internal": grpc.StatusCode.INTERNAL,
}

Response = TypeVar("Response")


def mapped(method: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Wrap a servicer method: OvserveError -> its status code, anything else -> logged INTERNAL."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Response:
        try:
            return await method(self, request, context)
        except OvserveError as exc:
            await context.abort(GRPC_STATUS.get(exc.kind, grpc.StatusCode.INTERNAL), exc.message)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            log.error("unexpected error", exc_info=exc, extra={"method": method.__name__})
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")
        raise AssertionError("unreachable: context.abort raises")

    return wrapper
