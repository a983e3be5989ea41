"""The one place core errors become gRPC status codes (same messages as REST)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ovserve.handler import offload
from ovserve.handler.codecs import tfs_proto
from ovserve.handler.errors import OvserveError, is_out_of_memory

log = logging.getLogger("ovserve.grpc")

GRPC_STATUS = {
    "invalid_input": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "unsupported_media_type": grpc.StatusCode.INVALID_ARGUMENT,
    "payload_too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "not_ready": grpc.StatusCode.UNAVAILABLE,
    "overloaded": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "method_not_allowed": grpc.StatusCode.UNIMPLEMENTED,
    "not_acceptable": grpc.StatusCode.INVALID_ARGUMENT,
    "conflict": grpc.StatusCode.ALREADY_EXISTS,
    "insufficient_resources": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "config": grpc.StatusCode.INTERNAL,
    "internal": grpc.StatusCode.INTERNAL,
}

Response = TypeVar("Response")


async def abort_for(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    """End the call with the status ``exc`` maps to (always raises)."""
    if isinstance(exc, OvserveError):
        await context.abort(GRPC_STATUS.get(exc.kind, grpc.StatusCode.INTERNAL), exc.message)
    if is_out_of_memory(exc):  # e.g. numpy's MemoryError while building an answer: the same kind as OpenVINO's
        log.warning("out of memory", extra={"method": method, "reason": str(exc)[:200]})
        await context.abort(GRPC_STATUS["insufficient_resources"], "out of memory while answering this call; retry later")
    log.error("unexpected error", exc_info=exc, extra={"method": method})
    await context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")


def handler(method: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]], message_class: Any) -> grpc.RpcMethodHandler:
    """A unary handler that parses the request bytes itself and maps errors, in one coroutine.

    grpc's own deserializer would answer undecodable bytes with UNKNOWN and a
    Python class name; parsing here makes them INVALID_ARGUMENT like any bad input.
    Messages of ``offload.OFFLOAD_AT_BYTES`` or more are parsed on a worker thread.
    One coroutine layer per call also keeps the per-request cost down.
    """
    name = method.__name__

    async def call(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            if len(body) < offload.OFFLOAD_AT_BYTES:
                request = tfs_proto.parse(message_class, body)
            else:  # a message of megabytes takes milliseconds to parse: not on the loop
                request = await offload.on_worker(lambda: tfs_proto.parse(message_class, body))
            return (await method(request, context)).SerializeToString()
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_for(context, exc, name)
        raise AssertionError("unreachable: context.abort raises")

    return grpc.unary_unary_rpc_method_handler(call)
