"""SageMaker ``/invocations`` against raw OpenVINO, on the same machine in the same run.

Two workloads, each next to its raw limit (``AsyncInferQueue`` with the
device's optimal number of requests):
* ResNet-50, one image per request, in each binary and text body type;
* a tabular MLP over batch-transform-shaped bodies (1,024 CSV rows or JSON
  Lines records per request), reported in records per second; raw runs the
  batches the server cuts each body into (one even share per infer request).
Every point is measured ``--repeats`` times, interleaved; medians go to bench/RESULTS.md.
Usage: python -m bench.sagemaker [--seconds 4] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import orjson

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2

from . import loadgen, models, raw
from .cold_start import free_port
from .report import publish, wait_until_ok
from .stats import Point, interleaved, median_point

RECORDS_PER_BODY = 1024
THROUGHPUT = {"PERFORMANCE_HINT": "THROUGHPUT"}


def tabular() -> ov.Model:
    """[-1, 32] -> 256 -> 256 -> 2 softmax: a typical tabular classifier."""
    rng = np.random.default_rng(7)
    x = ops.parameter([-1, 32], ov.Type.f32, name="features")
    y = x
    for size_in, size_out in ((32, 256), (256, 256)):
        y = ops.relu(ops.matmul(y, ops.constant(rng.standard_normal((size_in, size_out)).astype(np.float32) / 16), False, False))
    y = ops.softmax(ops.matmul(y, ops.constant(rng.standard_normal((256, 2)).astype(np.float32)), False, False), 1)
    y.output(0).set_names({"scores"})
    return ov.Model([ops.result(y)], [x], "tabular")


class Endpoint:
    """``serve`` as SageMaker starts it, for the model in ``model_dir``."""

    def __init__(self, model_dir: Path, max_payload_mb: int) -> None:
        self.port = free_port()
        env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": str(self.port), "OVSERVE_MODEL_PATH": str(model_dir),
               "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(max_payload_mb), "LOG_LEVEL": "WARNING",
               "OVSERVE_PLUGIN_CONFIG": json.dumps(THROUGHPUT)}
        self.process = subprocess.Popen([sys.executable, "-m", "ovserve.sagemaker", "serve"], env=env)
        wait_until_ok(self.port, "/ping", self.process, "serve")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _protobuf(model: str, name: str, array: np.ndarray) -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    tensor_proto.fill(request.inputs[name], array)
    return request.SerializeToString()


def _msgpack(name: str, array: np.ndarray) -> bytes:
    value = {b"nd": True, b"type": array.dtype.str, b"kind": b"", b"shape": list(array.shape), b"data": array.tobytes()}
    return msgpack.packb({name: value}, use_bin_type=True)


def main() -> None:
    args, command = loadgen.load_arguments(__doc__, "bench.sagemaker")
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-bench-sm-"))
    paths = models.write(scratch / "models")
    paths["tabular"] = scratch / "models" / "tabular"
    (paths["tabular"] / "1").mkdir(parents=True)
    ov.save_model(tabular(), paths["tabular"] / "1" / "model.xml", compress_to_fp16=False)

    image = raw.random_input((1, 3, 224, 224))
    records = np.random.default_rng(3).random((RECORDS_PER_BODY, 32), dtype=np.float32)
    resnet = raw.compile_model(str(paths["resnet50"] / "1" / "model.xml"), THROUGHPUT)
    mlp = raw.compile_model(str(paths["tabular"] / "1" / "model.xml"), THROUGHPUT)
    nireq = {name: int(c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) for name, c in (("resnet50", resnet), ("tabular", mlp))}
    per_infer = -(-RECORDS_PER_BODY // nireq["tabular"])  # how the server splits a body for a model of any batch size
    chunk = {0: records[:per_infer]}
    points: dict[tuple[str, str, int], Callable[[], Point]] = {
        ("resnet50", "raw async", nireq["resnet50"]): lambda: raw.async_queue(resnet, {0: image}, args.seconds, nireq["resnet50"]),
        ("tabular", f"raw async, {per_infer} records per infer", nireq["tabular"]): (
            lambda: _per_record(raw.async_queue(mlp, chunk, args.seconds, nireq["tabular"]), per_infer)),
    }
    endpoints = {name: Endpoint(paths[name], max_payload_mb=20) for name in ("resnet50", "tabular")}
    pid, url = endpoints["resnet50"].process.pid, f"http://127.0.0.1:{endpoints['resnet50'].port}/invocations"
    image_bodies = {
        "application/x-npy": _npy(image),
        "application/msgpack": _msgpack("image", image),
        "application/x-protobuf": _protobuf("resnet50", "image", image),
        "application/json": orjson.dumps({"inputs": image}, option=orjson.OPT_SERIALIZE_NUMPY),
    }
    for content_type, body in image_bodies.items():
        for concurrency in (1, 8):
            points[("resnet50", content_type, concurrency)] = (
                lambda b=body, t=content_type, c=concurrency: loadgen.wrk(url, b, c, args.seconds, pid, t))
    csv_body = "\n".join(",".join(f"{v:.6f}" for v in row) for row in records).encode()
    lines_body = b"\n".join(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in records)
    tabular_pid, tabular_url = endpoints["tabular"].process.pid, f"http://127.0.0.1:{endpoints['tabular'].port}/invocations"
    for content_type, body in (("text/csv", csv_body), ("application/jsonlines", lines_body)):
        for concurrency in (2, 4):
            points[("tabular", f"{content_type}, {RECORDS_PER_BODY} records per request", concurrency)] = (
                lambda b=body, t=content_type, c=concurrency: _per_record(
                    loadgen.wrk(tabular_url, b, c, args.seconds, tabular_pid, t), RECORDS_PER_BODY))
    try:
        measured = interleaved(points, args.repeats)
    finally:
        for endpoint in endpoints.values():
            endpoint.stop()
    publish(render(command, {k: median_point(v) for k, v in measured.items()}, nireq), args.output)


def _per_record(point: Point, records: int) -> Point:
    point.extra["records_per_s"] = point.rps * records
    return point


def render(command: str, points: dict[tuple[str, str, int], Point], nireq: dict[str, int]) -> str:
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` (SageMaker /invocations)\n",
        f"- machine: {os.cpu_count()} cores, OpenVINO {ov.__version__.split('-')[0]}; PERFORMANCE_HINT=THROUGHPUT in server "
        f"and raw runs (nireq resnet50 {nireq['resnet50']}, tabular {nireq['tabular']}); medians of interleaved repeats\n",
        "| model | body | concurrency | req/s | records/s | p50 ms | p99 ms | vs raw async | server CPU ms/req | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (model, body, concurrency), point in points.items():
        limit = next(p for (m, kind, _), p in points.items() if m == model and kind.startswith("raw async"))
        per_record = "records_per_s" in point.extra
        ratio = (point.extra["records_per_s"] / limit.extra["records_per_s"]) if per_record else point.rps / limit.rps
        extra = point.extra
        lines.append(
            f"| {model} | {body} | {concurrency} | {point.rps:,.0f} | "
            f"{extra['records_per_s']:,.0f} |" if per_record else f"| {model} | {body} | {concurrency} | {point.rps:,.0f} | |"
        )
        lines[-1] += (f" {point.p50_ms:.2f} | {point.p99_ms:.2f} | {ratio:.2f} | "
                      f"{extra.get('server_cpu_ms_per_req', float('nan')):.2f} | {extra.get('errors', '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
