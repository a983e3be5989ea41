"""Large gRPC messages are parsed on a worker thread, small ones on the loop (issue 12, item 6)."""

from __future__ import annotations

import asyncio
import threading

from ovserve.handler import offload
from ovserve.handler.protos import serving_apis_pb2
from ovserve.server.grpc_errors import handler


class Recorded:
    """Parses a real request message and notes which thread did it (protobuf classes cannot be subclassed)."""

    DESCRIPTOR = serving_apis_pb2.GetModelStatusRequest.DESCRIPTOR
    threads: list[str] = []

    def ParseFromString(self, body: bytes) -> int:  # noqa: N802 (protobuf's name)
        Recorded.threads.append(threading.current_thread().name)
        return serving_apis_pb2.GetModelStatusRequest().ParseFromString(body)


async def answer(request, context):
    return serving_apis_pb2.GetModelStatusResponse()


class _Context:
    """What ``handler`` asks of grpc's ServicerContext on a call that succeeds."""

    def invocation_metadata(self) -> tuple:
        return ()

    def set_trailing_metadata(self, metadata: tuple) -> None:
        pass


def test_messages_from_the_offload_size_are_parsed_off_the_loop() -> None:
    call = handler(answer, Recorded).unary_unary
    small = serving_apis_pb2.GetModelStatusRequest()
    small.model_spec.name = "m"
    large = serving_apis_pb2.GetModelStatusRequest()
    large.model_spec.name = "m" * offload.OFFLOAD_AT_BYTES

    async def scenario() -> str:
        await call(small.SerializeToString(), _Context())
        await call(large.SerializeToString(), _Context())
        return threading.current_thread().name

    loop_thread = asyncio.run(scenario())
    assert Recorded.threads[0] == loop_thread
    assert Recorded.threads[1].startswith("ovserve-codec-"), Recorded.threads
