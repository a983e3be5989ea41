"""The one place core errors become gRPC status codes (same messages as REST, codes from the core's ``ErrorKind``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ovserve.handler import offload
from ovserve.handler.codecs import proto_scan, tfs_proto
from ovserve.handler.errors import ErrorKind
from ovserve.handler.failures import failure_of, log_failure

log = logging.getLogger("ovserve.grpc")

# The core's table names each kind's gRPC code; this is the one place the name becomes grpc's enum.
GRPC_STATUS: dict[ErrorKind, grpc.StatusCode] = {kind: grpc.StatusCode[kind.grpc_code] for kind in ErrorKind}

Response = TypeVar("Response")


async def abort_for(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    """End the call with the status ``exc`` maps to (always raises), logged as REST and Lambda log theirs."""
    failure = failure_of(exc, out_of_memory="out of memory while answering this call; retry later",
                         internal="internal server error; see the server log")
    code = GRPC_STATUS[failure.error.kind]
    log_failure(log, failure, method=method, code=code.name)
    await context.abort(code, failure.error.message)


def parse_work(body: bytes, raw_paths: tuple[tuple[int, ...], ...]) -> int:
    """What parsing ``body`` weighs against ``offload.OFFLOAD_AT_BYTES``: its raw tensor fields count at a discount."""
    if len(body) < offload.OFFLOAD_AT_BYTES or not raw_paths:
        return len(body)
    raw = proto_scan.raw_bytes(body, raw_paths)
    return len(body) - raw + offload.raw_work(raw)


def handler(
    method: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]], message_class: Any,
    raw_paths: tuple[tuple[int, ...], ...] = (),
) -> grpc.RpcMethodHandler:
    """A unary handler that parses the request bytes itself and maps errors, in one coroutine.

    grpc's own deserializer would answer undecodable bytes with UNKNOWN and a
    Python class name; parsing here makes them INVALID_ARGUMENT like any bad input.
    Messages weighing ``offload.OFFLOAD_AT_BYTES`` or more are parsed on a
    worker thread; ``raw_paths`` name the message's raw tensor fields
    (``proto_scan``), whose bytes weigh little, so a message that is mostly one
    tensor is parsed where it arrived.
    One coroutine layer per call also keeps the per-request cost down.
    """
    name = method.__name__

    async def call(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            if parse_work(body, raw_paths) < offload.OFFLOAD_AT_BYTES:
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
