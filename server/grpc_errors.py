"""The one place core errors become gRPC status codes (same messages as REST, codes from the core's ``ErrorKind``).

It is also where each call's request context opens and closes
(``handler.request_context``): the caller's ``x-request-id`` metadata, or a
new id, echoed in the call's trailing metadata (sent with the status, so
failed calls carry it too; initial metadata would cost a message of its own,
``send_initial_metadata`` measured 40-150 µs on a 300 µs call here, where
trailing metadata rides along), and OVMS's labels: the API from the
service's package, the method from the RPC's name. The core counts the call
and writes its access line when the context closes with its status code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ovserve.handler import offload, request_context
from ovserve.handler.codecs import proto_scan, tfs_proto
from ovserve.handler.errors import ErrorKind
from ovserve.handler.failures import Failure, failure_of, log_failure
from ovserve.handler.protos import grpc_service_pb2, serving_services_pb2
from ovserve.handler.request_context import GRPC, HEADER, KSERVE, TFS

log = logging.getLogger("ovserve.grpc")

# The core's table names each kind's gRPC code; this is the one place the name becomes grpc's enum.
GRPC_STATUS: dict[ErrorKind, grpc.StatusCode] = {kind: grpc.StatusCode[kind.grpc_code] for kind in ErrorKind}

Response = TypeVar("Response")


def failure_code(exc: Exception) -> tuple[Failure, grpc.StatusCode]:
    """What the client is told about ``exc``, and the status code it maps to."""
    failure = failure_of(exc, out_of_memory="out of memory while answering this call; retry later",
                         internal="internal server error; see the server log")
    return failure, GRPC_STATUS[failure.error.kind]


async def abort_for(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    """End the call with the status ``exc`` maps to (always raises), logged as REST and Lambda log theirs."""
    failure, code = failure_code(exc)
    log_failure(log, failure, method=method, code=code.name)
    await context.abort(code, failure.error.message)


def _routes() -> dict[tuple[str, str], str]:
    """(request message, method name) -> the RPC's path, from the services' own descriptors."""
    routes = {}
    for module in (serving_services_pb2, grpc_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for rpc in service.methods:
                routes[(rpc.input_type.full_name, rpc.name)] = f"/{service.full_name}/{rpc.name}"
    return routes


_ROUTES = _routes()


def _api(route: str) -> str:
    """OVMS's ``api`` label of an RPC path: TF Serving's services or KServe's."""
    return TFS if route.startswith("/tensorflow.serving.") else KSERVE if route.startswith("/inference.") else ""


def _sent_id(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == HEADER and isinstance(value, str):
            return value
    return None


def _echo(context: grpc.aio.ServicerContext) -> None:
    """The request's id in the trailing metadata, as it stands now (a v2 body's ``id`` may have become it)."""
    info = request_context.current()
    if info is not None:
        context.set_trailing_metadata(((HEADER, info.request_id),))


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
    route = _ROUTES.get((message_class.DESCRIPTOR.full_name, name), name)
    api = _api(route)

    async def call(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        token = request_context.begin(_sent_id(context), api, GRPC, name, route)
        code, answer, open_ = "OK", b"", True
        try:
            if parse_work(body, raw_paths) < offload.OFFLOAD_AT_BYTES:
                request = tfs_proto.parse(message_class, body)
            else:  # a message of megabytes takes milliseconds to parse: not on the loop
                request = await offload.on_worker(lambda: tfs_proto.parse(message_class, body))
            answer = (await method(request, context)).SerializeToString()
            _echo(context)
            return answer
        except grpc.aio.AbortError:
            code = _aborted(context)
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except Exception as exc:
            failure, status = failure_code(exc)
            code = status.name
            log_failure(log, failure, method=name, code=code)
            _echo(context)
            open_ = False  # closed before the abort: it sends the status, after which the client may read the log
            request_context.end(token, code, False, len(body), 0)
            await context.abort(status, failure.error.message)
        finally:
            if open_:
                request_context.end(token, code, code == "OK", len(body), len(answer))
        raise AssertionError("unreachable: context.abort raises")

    return grpc.unary_unary_rpc_method_handler(call)


def _aborted(context: grpc.aio.ServicerContext) -> str:
    """The code a method aborted its call with itself (``context.abort``), as a name."""
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
