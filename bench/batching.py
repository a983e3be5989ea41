"""Server-side batching: the same server with batching off and on, against raw OpenVINO at batch 1, in one run.

Models: a MobileNet-shaped network (depthwise-separable convolutions, about
570 MMAC at 224x224x3, THROUGHPUT hint) and the tiny model (x + 1, LATENCY
hint), both with a dynamic batch. One ``ovserve`` process serves each model
twice: ``<model>`` without batching and ``<model>_batched`` with the default
settings (``"batching": {}``), so both halves of every comparison share the
process, the machine and the run. Each is loaded over TF Serving gRPC (h2load)
and KServe v2 REST binary (wrk) at concurrency 1, 8 and 32, interleaved with
raw ``AsyncInferQueue`` at batch 1, dynamic and static (the unbatched limit is
the better of the two), and reported as medians. Every path is checked for a correct answer before timing.
Usage: python -m bench.batching [--seconds 4] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import openvino as ov
import orjson

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2

from . import loadgen, models, raw
from .cold_start import free_port
from .report import publish, wait_until_ok
from .run import HEADER_LENGTH, LATENCY, PREDICT, THROUGHPUT, uptime
from .stats import Point, interleaved, median_point

BUILDERS = {"mobilenet": models.mobilenet, "tiny": models.tiny_any_batch}
SHAPES = {"mobilenet": (1, 3, 224, 224), "tiny": (1, 10)}
INPUT = {"mobilenet": "image", "tiny": "x"}
OUTPUT = {"mobilenet": "probabilities", "tiny": "y"}
PROPERTIES = {"mobilenet": THROUGHPUT, "tiny": LATENCY}
CONCURRENCY = (1, 8, 32)
# Served variants: batching off, and on with the defaults.
VARIANTS = {"mobilenet": ("off", "on"), "tiny": ("off", "on")}
SUFFIX = {"off": "", "on": "_batched"}
PATHS = ("gRPC tensor_content", "v2 REST binary")


def write_models(root: Path) -> dict[str, Path]:
    paths = {}
    for name, build in BUILDERS.items():
        folder = root / name / "1"
        folder.mkdir(parents=True, exist_ok=True)
        ov.save_model(build(), folder / "model.xml", compress_to_fp16=False)
        paths[name] = root / name
    return paths


def write_config(paths: dict[str, Path], scratch: Path) -> Path:
    """Every model twice: as it is, and as ``<name>_batched`` with the default batching settings."""
    entries = []
    for name, path in paths.items():
        common = {"base_path": str(path), "plugin_config": PROPERTIES[name]}
        batching = {"off": None, "on": {}}
        for variant in VARIANTS[name]:
            extra = {} if batching[variant] is None else {"batching": batching[variant]}
            entries.append({"config": {"name": name + SUFFIX[variant], **common, **extra}})
    config = scratch / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    return config


def _with_batch_of_one(path: Path) -> ov.Model:
    """The model read from ``path`` with its batch dimension fixed at 1 (the raw static baseline)."""
    model = ov.Core().read_model(str(path))
    model.reshape({port: ov.PartialShape([1, *list(port.get_partial_shape())[1:]]) for port in model.inputs})
    return model


def grpc_message(served: str, model: str, array: np.ndarray) -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = served
    tensor_proto.fill(request.inputs[INPUT[model]], array)
    return request.SerializeToString()


def v2_binary(model: str, array: np.ndarray) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps({
        "inputs": [{"name": INPUT[model], "shape": list(array.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": array.nbytes}}],
        "parameters": {"binary_data_output": True},
    })
    return header + array.tobytes(), {HEADER_LENGTH: str(len(header))}


class Server:
    """ovserve serving the config, at WARNING level (no per-batch lines: they would cost what is measured)."""

    def __init__(self, config_path: Path) -> None:
        self.rest, self.grpc = free_port(), free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ovserve.server", "--config_path", str(config_path), "--preload",
             "--rest_port", str(self.rest), "--rest_bind_address", "127.0.0.1",
             "--port", str(self.grpc), "--grpc_bind_address", "127.0.0.1", "--log_level", "WARNING"],
        )
        wait_until_ok(self.rest, "/v2/health/ready", self.process, "ovserve", timeout=180)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def check(server: Server, served: str, model: str, array: np.ndarray, expected: np.ndarray) -> None:
    """One request per path before timing: the load generators count statuses, not answers."""
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc}") as channel:
        call = channel.unary_unary(PREDICT, response_deserializer=serving_apis_pb2.PredictResponse.FromString)
        answer = call(grpc_message(served, model, array), timeout=60)
        got = tensor_proto.to_array(OUTPUT[model], answer.outputs[OUTPUT[model]])
        assert np.allclose(got, expected, rtol=1e-3, atol=1e-5), f"{served}: gRPC answer differs from raw OpenVINO"
    body, headers = v2_binary(model, array)
    url = f"http://127.0.0.1:{server.rest}/v2/models/{served}/infer"
    with urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/octet-stream", **headers})) as r:
        length = int(r.headers[HEADER_LENGTH])
        got = np.frombuffer(r.read()[length:], np.float32).reshape(expected.shape)
        assert np.allclose(got, expected, rtol=1e-3, atol=1e-5), f"{served}: v2 REST answer differs from raw OpenVINO"


def main() -> None:
    args, command = loadgen.load_arguments(__doc__, "bench.batching")
    before = uptime()
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-bench-batching-"))
    paths = write_models(scratch / "models")
    arrays = {name: raw.random_input(shape) for name, shape in SHAPES.items()}
    compiled = {name: raw.compile_model(str(paths[name] / "1" / "model.xml"), PROPERTIES[name]) for name in paths}
    nireq = {name: int(c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) for name, c in compiled.items()}
    expected = {name: next(iter(compiled[name]({0: arrays[name]}).values())).copy() for name in paths}

    points: dict[tuple[str, str, str, int], Callable[[], Point]] = {}
    for name in paths:
        points[(name, "raw AsyncInferQueue, batch 1", "-", nireq[name])] = (
            lambda c=compiled[name], i={0: arrays[name]}, n=nireq[name]: raw.async_queue(c, i, args.seconds, n))
    # The model compiled for a static batch of 1 is the faster raw baseline (661 against 631 rows/s for MobileNet):
    # "vs raw batch 1" divides by the better of the two.
    static_one = {name: ov.Core().compile_model(_with_batch_of_one(paths[name] / "1" / "model.xml"), "CPU", PROPERTIES[name])
                  for name in paths}
    for name in paths:
        points[(name, "raw AsyncInferQueue, static batch 1", "-", nireq[name])] = (
            lambda c=static_one[name], i={0: arrays[name]}, n=nireq[name]: raw.async_queue(c, i, args.seconds, n))
    server = Server(write_config(paths, scratch))
    pid = server.process.pid
    for name in paths:
        for batching, served in ((variant, name + SUFFIX[variant]) for variant in VARIANTS[name]):
            message = grpc_message(served, name, arrays[name])
            body, headers = v2_binary(name, arrays[name])
            url = f"http://127.0.0.1:{server.rest}/v2/models/{served}/infer"
            for concurrency in CONCURRENCY:
                points[(name, PATHS[0], batching, concurrency)] = (
                    lambda m=message, c=concurrency: loadgen.h2load(f"127.0.0.1:{server.grpc}", PREDICT, m, c, args.seconds, pid))
                points[(name, PATHS[1], batching, concurrency)] = (
                    lambda u=url, b=body, h=headers, c=concurrency: loadgen.wrk(
                        u, b, c, args.seconds, pid, "application/octet-stream", h))
    try:
        for name in paths:
            for served in (name + SUFFIX[variant] for variant in VARIANTS[name]):
                check(server, served, name, arrays[name], expected[name])
        measured = interleaved(points, args.repeats)
    finally:
        server.stop()
    after = uptime()
    publish(render(command, before, after, {k: median_point(v) for k, v in measured.items()}, nireq), args.output)
    points.clear()  # the raw points hold compiled models: free OpenVINO's threads before the interpreter exits
    compiled.clear()
    static_one.clear()
    gc.collect()


def render(command: str, before: str, after: str, points: dict, nireq: dict[str, int]) -> str:
    import os
    import platform
    import time

    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` (server-side batching)\n",
        f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, OpenVINO {ov.__version__.split('-')[0]}",
        f"- load before: `{before}`",
        f"- load after: `{after}`",
        f"- medians of interleaved repeats; mobilenet uses THROUGHPUT (nireq {nireq['mobilenet']}), tiny LATENCY "
        f"(nireq {nireq['tiny']}); batching on is `\"batching\": {{}}` (32 rows, 1000 µs, 16 batches)\n",
        "| model | path | batching | concurrency | req/s | p50 ms | p99 ms | vs raw batch 1 | vs off | server CPU ms/req | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (model, path, batching, concurrency), point in points.items():
        limit = max((p for (m, kind, _, _), p in points.items() if m == model and kind.startswith("raw")), key=lambda p: p.rps)
        off = points.get((model, path, "off", concurrency))
        versus_off = f"{point.rps / off.rps:.2f}" if batching != "off" and off and off.rps else ""
        lines.append(
            f"| {model} | {path} | {batching} | {concurrency} | {point.rps:,.0f} | {point.p50_ms:.2f} | {point.p99_ms:.2f} | "
            f"{point.rps / limit.rps if limit.rps else float('nan'):.2f} | {versus_off} | "
            f"{point.extra.get('server_cpu_ms_per_req', float('nan')):.2f} | {point.extra.get('errors', '')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
