"""The transports alone, for bench.transport_floor: Sanic and grpc.aio with handlers that do nothing.

``python -m bench.floor_servers sanic PORT`` answers every POST with a fixed
small JSON body; ``python -m bench.floor_servers grpc PORT`` answers every
unary call with an empty message. Both run on uvloop, as ovserve does, with
access logs off and ovserve's message-size options, so what they cost per
request is the floor any server built on them pays before it does any work.
"""

from __future__ import annotations

import asyncio
import sys

ANSWER = b'{"model_name":"tiny","outputs":[{"name":"y","datatype":"FP32","shape":[1,10],"data":[1,2,3,4,5,6,7,8,9,10]}]}'


def sanic(port: int) -> None:
    from sanic import Sanic
    from sanic.response import raw

    app = Sanic("floor")
    app.config.ACCESS_LOG = False

    @app.get("/ready")
    async def ready(request: object) -> object:
        return raw(b"{}", content_type="application/json")

    @app.post("/<rest:path>")
    async def answer(request: object, rest: str) -> object:
        return raw(ANSWER, content_type="application/json")

    app.run(host="127.0.0.1", port=port, single_process=True, access_log=False, debug=False, motd=False)


def grpc_server(port: int) -> None:
    import grpc
    import uvloop

    async def serve() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", (1 << 30) - 1), ("grpc.so_reuseport", 0)])

        async def empty(body: bytes, context: object) -> bytes:
            return b""

        handler = grpc.method_handlers_generic_handler(
            "inference.GRPCInferenceService", {"ModelInfer": grpc.unary_unary_rpc_method_handler(empty)})
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    uvloop.run(serve())


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "sanic":
        sanic(port)
    else:
        asyncio.set_event_loop_policy(None)
        grpc_server(port)
