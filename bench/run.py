"""``make bench``: ovserve against raw OpenVINO on the same machine, in the same run.

Every point (model x protocol x concurrency, and the raw limits) is measured
``--repeats`` times, interleaved, and reported as medians; the table and the
machine load before and after are appended to bench/RESULTS.md.
Usage: python -m bench.run [--seconds 4] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import openvino as ov
import orjson

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import grpc_service_pb2, serving_apis_pb2

from . import codec_cost, loadgen, models, raw
from .cold_start import first_answer, free_port
from .liveness import liveness_during
from .report import publish, wait_until_ok
from .stats import Point, interleaved, median_point

THROUGHPUT = {"PERFORMANCE_HINT": "THROUGHPUT"}
LATENCY = {"PERFORMANCE_HINT": "LATENCY"}
PREDICT = "/tensorflow.serving.PredictionService/Predict"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
HEADER_LENGTH = "Inference-Header-Content-Length"
SHAPES = {"tiny": (1, 10), "resnet50": (1, 3, 224, 224)}
INPUT = {"tiny": "x", "resnet50": "image"}
PROPERTIES = {"tiny": LATENCY, "resnet50": THROUGHPUT}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _grpc_request(model: str, array: np.ndarray) -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    tensor_proto.fill(request.inputs[INPUT[model]], array)
    return request.SerializeToString()


def _v2_input(model: str, array: np.ndarray) -> dict:
    return {"name": INPUT[model], "shape": list(array.shape), "datatype": "FP32"}


def _v2_json_body(model: str, array: np.ndarray) -> bytes:
    """A v2 REST JSON infer request as tritonclient sends it: flat data, JSON answers."""
    return orjson.dumps({"inputs": [{**_v2_input(model, array), "data": array.ravel()}]}, option=orjson.OPT_SERIALIZE_NUMPY)


def _v2_binary_body(model: str, array: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """A binary tensor data request (JSON header + raw bytes, binary answers asked for) and its extra headers."""
    header = orjson.dumps({
        "inputs": [{**_v2_input(model, array), "parameters": {"binary_data_size": array.nbytes}}],
        "parameters": {"binary_data_output": True},
    })
    return header + array.tobytes(), {HEADER_LENGTH: str(len(header))}


def _v2_grpc_request(model: str, array: np.ndarray) -> bytes:
    request = grpc_service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add()
    tensor.name, tensor.datatype = INPUT[model], "FP32"
    tensor.shape.extend(array.shape)
    request.raw_input_contents.append(array.tobytes())
    return request.SerializeToString()


def check_v2(server: Server, model: str, array: np.ndarray) -> None:
    """One request per v2 body before timing: wrk and h2load count HTTP statuses only (gRPC errors arrive as 200)."""
    url = f"http://127.0.0.1:{server.rest}/v2/models/{model}/infer"
    with urllib.request.urlopen(urllib.request.Request(url, _v2_json_body(model, array), {"Content-Type": "application/json"})) as r:
        assert orjson.loads(r.read())["outputs"], f"{model}: v2 REST JSON answered no outputs"
    body, headers = _v2_binary_body(model, array)
    request = urllib.request.Request(url, body, {"Content-Type": "application/octet-stream", **headers})
    with urllib.request.urlopen(request) as r:
        assert r.headers.get(HEADER_LENGTH), f"{model}: v2 REST binary answered without {HEADER_LENGTH}"
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc}") as channel:
        call = channel.unary_unary(MODEL_INFER, response_deserializer=grpc_service_pb2.ModelInferResponse.FromString)
        answer = call(_v2_grpc_request(model, array), timeout=60)
        assert answer.raw_output_contents, f"{model}: v2 gRPC answered no raw_output_contents"


def write_config(paths: dict[str, Path], scratch: Path) -> Path:
    """An OVMS config.json serving every model in ``paths`` with its benchmark properties."""
    config = {"model_config_list": [
        {"config": {"name": name, "base_path": str(path), "plugin_config": PROPERTIES[name]}}
        for name, path in paths.items()
    ]}
    config_path = scratch / "config.json"
    config_path.write_text(json.dumps(config))
    return config_path


class Server:
    """ovserve as users start it: one process serving a config.json's models over REST and gRPC.

    ``python`` and ``cwd`` pick the build (another checkout's venv, for before/after runs).
    """

    def __init__(self, config_path: Path, python: str = sys.executable, cwd: Path | None = None, label: str = "ovserve") -> None:
        self.label = label
        self.rest, self.grpc = free_port(), free_port()
        self.process = subprocess.Popen(
            [python, "-m", "ovserve.server", "--config_path", str(config_path), "--preload",
             "--rest_port", str(self.rest), "--rest_bind_address", "127.0.0.1",
             "--port", str(self.grpc), "--grpc_bind_address", "127.0.0.1", "--log_level", "WARNING"],
            cwd=cwd,
        )
        wait_until_ok(self.rest, "/v2/health/ready", self.process, label, timeout=120)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def main() -> None:
    args, command = loadgen.load_arguments(__doc__, "bench.run", repeats=5)
    before = uptime()
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-bench-"))
    paths = models.write(scratch / "models")
    arrays = {name: raw.random_input(shape) for name, shape in SHAPES.items()}

    compiled = {name: raw.compile_model(str(paths[name] / "1" / "model.xml"), PROPERTIES[name]) for name in paths}
    nireq = {name: int(c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) for name, c in compiled.items()}
    points: dict[tuple[str, str, int], Callable[[], Point]] = {}
    for name in paths:
        inputs = {0: arrays[name]}
        points[(name, "raw sync", 1)] = lambda c=compiled[name], i=inputs: raw.sync_loop(c, i, args.seconds)
        points[(name, f"raw async ({nireq[name]} in flight)", nireq[name])] = (
            lambda c=compiled[name], i=inputs, n=nireq[name]: raw.async_queue(c, i, args.seconds, n)
        )

    server = Server(write_config(paths, scratch))
    pid = server.process.pid
    for name in paths:
        array = arrays[name]
        column = orjson.dumps({"inputs": {INPUT[name]: array}}, option=orjson.OPT_SERIALIZE_NUMPY)
        row = orjson.dumps({"instances": [{INPUT[name]: array[0]}]}, option=orjson.OPT_SERIALIZE_NUMPY)
        url = f"http://127.0.0.1:{server.rest}/v1/models/{name}:predict"
        message = _grpc_request(name, array)
        v2_url = f"http://127.0.0.1:{server.rest}/v2/models/{name}/infer"
        v2_json = _v2_json_body(name, array)
        v2_binary, v2_headers = _v2_binary_body(name, array)
        v2_message = _v2_grpc_request(name, array)
        for concurrency in (1, 8):
            points[(name, "REST JSON column", concurrency)] = (
                lambda u=url, b=column, c=concurrency: loadgen.wrk(u, b, c, args.seconds, pid))
            points[(name, "REST JSON row", concurrency)] = (
                lambda u=url, b=row, c=concurrency: loadgen.wrk(u, b, c, args.seconds, pid))
            points[(name, "gRPC tensor_content", concurrency)] = (
                lambda m=message, c=concurrency: loadgen.h2load(f"127.0.0.1:{server.grpc}", PREDICT, m, c, args.seconds, pid))
            points[(name, "v2 REST JSON", concurrency)] = (
                lambda u=v2_url, b=v2_json, c=concurrency: loadgen.wrk(u, b, c, args.seconds, pid))
            points[(name, "v2 REST binary", concurrency)] = (
                lambda u=v2_url, b=v2_binary, h=v2_headers, c=concurrency: loadgen.wrk(
                    u, b, c, args.seconds, pid, "application/octet-stream", h))
            points[(name, "v2 gRPC raw_input_contents", concurrency)] = (
                lambda m=v2_message, c=concurrency: loadgen.h2load(f"127.0.0.1:{server.grpc}", MODEL_INFER, m, c, args.seconds, pid))

    try:
        for name in paths:
            check_v2(server, name, arrays[name])
        measured = interleaved(points, args.repeats)
        resnet_message = _grpc_request("resnet50", arrays["resnet50"])
        health = liveness_during(
            server.rest, lambda: loadgen.h2load(f"127.0.0.1:{server.grpc}", PREDICT, resnet_message, 8, args.seconds, pid)
        )
    finally:
        server.stop()

    cold = cold_starts(paths, arrays, scratch, args.repeats)
    image_body = orjson.dumps({"inputs": arrays["resnet50"]}, option=orjson.OPT_SERIALIZE_NUMPY)
    decode, encode = codec_cost.measure(image_body, {"probabilities": np.zeros((1, 1000), np.float32)}, args.seconds)
    after = uptime()
    report = render(command, before, after, {k: median_point(v) for k, v in measured.items()}, cold, decode, encode, health, nireq)
    publish(report, args.output)
    points.clear()  # the raw points hold compiled models: free OpenVINO's threads before the interpreter exits
    compiled.clear()
    gc.collect()


def cold_starts(paths: dict[str, Path], arrays: dict[str, np.ndarray], scratch: Path, repeats: int) -> dict[str, Point]:
    """Tiny and ResNet-50: no cache, then a warm compiled-model cache; medians of interleaved repeats."""
    cases: dict[str, tuple[Path, bytes, Callable, list[str]]] = {}
    for name in paths:
        body = orjson.dumps({"inputs": arrays[name]}, option=orjson.OPT_SERIALIZE_NUMPY)
        expected = _expected(paths[name], arrays[name])

        def check(answer: dict, expected: np.ndarray = expected) -> bool:
            return np.allclose(np.asarray(answer["outputs"], np.float32), expected, rtol=1e-2, atol=1e-3)

        cache = scratch / f"cache-{name}"
        first_answer(paths[name], body, check, ["--cache_dir", str(cache)])  # fills the cache
        cases[f"{name}, no cache"] = (paths[name], body, check, [])
        cases[f"{name}, warm cache"] = (paths[name], body, check, ["--cache_dir", str(cache)])
    results: dict[str, list[Point]] = {key: [] for key in cases}
    for _ in range(repeats):
        for key, (path, body, check, flags) in cases.items():
            results[key].append(first_answer(path, body, check, flags))
    return {key: median_point(points) for key, points in results.items()}


def _expected(base: Path, array: np.ndarray) -> np.ndarray:
    compiled = ov.Core().compile_model(str(base / "1" / "model.xml"), "CPU")
    return next(iter(compiled({0: array}).values()))


def render(command, before, after, points, cold, decode, encode, health, nireq) -> str:
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}`\n",
        f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, OpenVINO {ov.__version__.split('-')[0]}",
        f"- load before: `{before}`",
        f"- load after: `{after}`",
        f"- medians of interleaved repeats; ResNet-50 uses PERFORMANCE_HINT=THROUGHPUT (nireq {nireq['resnet50']}) "
        f"in both the server and the raw runs, tiny uses LATENCY (nireq {nireq['tiny']})\n",
        "| model | path | concurrency | req/s | p50 ms | p99 ms | vs raw async req/s | server CPU ms/req | client cores | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (model, path, concurrency), point in points.items():
        limit = next(p for (m, kind, _), p in points.items() if m == model and kind.startswith("raw async"))
        ratio = point.rps / limit.rps if limit.rps else float("nan")
        extra = point.extra
        lines.append(
            f"| {model} | {path} | {concurrency} | {point.rps:,.0f} | {point.p50_ms:.2f} | {point.p99_ms:.2f} | {ratio:.2f} | "
            f"{extra.get('server_cpu_ms_per_req', float('nan')):.2f} | {extra.get('client_cores', float('nan')):.2f} | "
            f"{extra.get('errors', '')} |"
        )
    lines += ["", "| cold start (spawn -> first correct REST answer) | seconds | peak RSS MB |", "|---|---:|---:|"]
    for key, point in cold.items():
        lines.append(f"| {key} | {point.p50_ms / 1000:.2f} | {point.extra['peak_rss_mb']:.0f} |")
    lines += [
        "",
        "| REST JSON codec, 1x3x224x224 f32 | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| decode (parse + typed arrays) | {decode.p50_ms:.2f} | {decode.p99_ms:.2f} |",
        f"| encode ([1,1000] response) | {encode.p50_ms:.2f} | {encode.p99_ms:.2f} |",
        "",
        f"- `/v2/health/live` while ResNet-50 is saturated over gRPC (concurrency 8): p50 {health.p50_ms:.2f} ms, "
        f"p99 {health.p99_ms:.2f} ms over {health.extra['samples']} samples",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
