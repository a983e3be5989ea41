"""What Sanic and grpc.aio cost per request on their own: the floor under every ovserve figure.

The same load generators and bodies as bench.run (tiny [1,10] and ResNet-50's
[1,3,224,224] float32, v2 REST JSON/binary and v2 gRPC) against
``bench.floor_servers``, whose handlers do nothing. Server CPU per request and
the request rate at concurrency 8 say how much of an ovserve figure is the
transport's: bench/RESULTS.md sets them beside the full server's.
Usage: python -m bench.transport_floor [--seconds 4] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable

from . import loadgen, raw
from .report import publish
from .run import MODEL_INFER, SHAPES, _v2_binary_body, _v2_grpc_request, _v2_json_body, uptime
from .stats import Point, interleaved, median_point


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(kind: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.floor_servers", kind, str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the bare {kind} server did not start") from None
            time.sleep(0.05)


def main() -> None:
    args, command = loadgen.load_arguments(__doc__, "bench.transport_floor")
    before = uptime()
    (sanic, rest), (grpc, grpc_port) = _start("sanic"), _start("grpc")
    points: dict[tuple[str, str], Callable[[], Point]] = {}
    try:
        for model, shape in SHAPES.items():
            array = raw.random_input(shape)
            url = f"http://127.0.0.1:{rest}/v2/models/{model}/infer"
            body, headers = _v2_binary_body(model, array)
            json_body, message = _v2_json_body(model, array), _v2_grpc_request(model, array)
            points[(model, "bare Sanic, v2 REST JSON body")] = (
                lambda u=url, b=json_body: loadgen.wrk(u, b, 8, args.seconds, sanic.pid))
            points[(model, "bare Sanic, v2 REST binary body")] = (
                lambda u=url, b=body, h=headers: loadgen.wrk(u, b, 8, args.seconds, sanic.pid, "application/octet-stream", h))
            points[(model, "bare grpc.aio, ModelInferRequest")] = (
                lambda m=message: loadgen.h2load(f"127.0.0.1:{grpc_port}", MODEL_INFER, m, 8, args.seconds, grpc.pid))
        measured = {key: median_point(runs) for key, runs in interleaved(points, args.repeats).items()}
    finally:
        for process in (sanic, grpc):
            process.terminate()
            process.wait(30)
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}`\n",
        f"- load before: `{before}`", f"- load after: `{uptime()}`",
        "- handlers that do nothing, concurrency 8, medians of interleaved repeats\n",
        "| body | transport | req/s | p50 ms | server CPU ms/req | client cores |", "|---|---|---:|---:|---:|---:|",
    ]
    for (model, kind), point in measured.items():
        lines.append(f"| {model} | {kind} | {point.rps:,.0f} | {point.p50_ms:.2f} | "
                     f"{point.extra['server_cpu_ms_per_req']:.3f} | {point.extra['client_cores']:.2f} |")
    publish("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
