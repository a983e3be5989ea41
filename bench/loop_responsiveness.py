"""Does the event loop stay responsive while large JSON bodies are decoded and answered? (issue 12, item 6)

Starts ``ovserve`` (and, with ``--before``, a second build of it, e.g. a
worktree of the last commit in its own venv) serving ``tiny`` (the [1,10] Add of
bench/models.py) and ``wide`` (x + 1 over f32 [-1, 1000]). For each build it
measures, interleaved over ``--repeats`` and reported as medians:
- ``/v2/health/live`` latency sampled every 10 ms while wrk floods ``wide`` with
  20 MB JSON bodies (each answered with 20 MB of JSON) on 2 connections;
- REST throughput for 2.9 MB JSON bodies (a ResNet-50 image's size) on ``wide``;
- small-request throughput at concurrency 8: tiny over REST (wrk) and gRPC
  (h2load), next to in-process OpenVINO (AsyncInferQueue) on the same model.
Usage: python -m bench.loop_responsiveness [--seconds 4] [--repeats 3] [--before PYTHON:DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import orjson

from . import loadgen, models, raw
from .liveness import liveness_during
from .report import publish
from .run import PREDICT, Server, _grpc_request, uptime
from .stats import Point, interleaved, median_point

REPO = Path(__file__).resolve().parent.parent
LATENCY = {"PERFORMANCE_HINT": "LATENCY"}


def wide() -> ov.Model:
    x = ops.parameter([-1, 1000], ov.Type.f32, name="x")
    y = ops.add(x, ops.constant(np.float32(1)))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "wide")


def json_body(megabytes: float) -> bytes:
    """A column-form body for ``wide`` of about ``megabytes`` MB (random f32 values, ~11 characters each)."""
    rng = np.random.default_rng(6)
    rows = max(1, int(megabytes * 1e6 / 11_000))
    body = orjson.dumps({"inputs": rng.random((rows, 1000), dtype=np.float32)}, option=orjson.OPT_SERIALIZE_NUMPY)
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="PYTHON:DIR of a build to compare with (its interpreter and source tree)")
    parser.add_argument("--output", default="bench/RESULTS.md")
    args = parser.parse_args()
    loadgen.require_tools()
    command = "python -m bench.loop_responsiveness " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    before_load = uptime()
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-loop-bench-"))
    tiny_base = models.write(scratch / "models")["tiny"]
    (scratch / "models" / "wide" / "1").mkdir(parents=True, exist_ok=True)
    ov.save_model(wide(), scratch / "models" / "wide" / "1" / "model.xml", compress_to_fp16=False)
    config = scratch / "config.json"
    config.write_text(json.dumps({"model_config_list": [
        {"config": {"name": name, "base_path": str(scratch / "models" / name), "plugin_config": LATENCY}}
        for name in ("tiny", "wide")
    ]}))
    flood_body, image_body = json_body(20), json_body(2.9)
    tiny_input = raw.random_input((1, 10))
    tiny_body = orjson.dumps({"inputs": {"x": tiny_input}}, option=orjson.OPT_SERIALIZE_NUMPY)
    tiny_message = _grpc_request("tiny", tiny_input)

    builds = []
    if args.before:
        python, _, folder = args.before.partition(":")
        builds.append(Server(config, python, Path(folder), "before"))
    builds.append(Server(config, sys.executable, REPO, "after"))
    compiled = raw.compile_model(str(tiny_base / "1" / "model.xml"), LATENCY)
    nireq = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    points: dict[tuple[str, str], Callable[[], Point]] = {}
    for build in builds:
        pid, wide_url = build.process.pid, f"http://127.0.0.1:{build.rest}/v1/models/wide:predict"
        points[(build.label, "flood")] = lambda b=build, u=wide_url, p=pid: liveness_during(
            b.rest, lambda: loadgen.wrk(u, flood_body, 2, args.seconds, p))
        points[(build.label, "image")] = lambda u=wide_url, p=pid: loadgen.wrk(u, image_body, 8, args.seconds, p)
        points[(build.label, "tiny rest")] = lambda b=build, p=pid: loadgen.wrk(
            f"http://127.0.0.1:{b.rest}/v1/models/tiny:predict", tiny_body, 8, args.seconds, p)
        points[(build.label, "tiny grpc")] = lambda b=build, p=pid: loadgen.h2load(
            f"127.0.0.1:{b.grpc}", PREDICT, tiny_message, 8, args.seconds, p)
    points[("raw", "tiny async")] = lambda c=compiled: raw.async_queue(c, {0: tiny_input}, args.seconds, nireq)
    try:
        measured = interleaved(points, args.repeats)
    finally:
        for build in builds:
            build.stop()
    medians = {key: median_point(values) for key, values in measured.items()}
    publish(render(command, before_load, uptime(), medians, [b.label for b in builds], len(flood_body), len(image_body), nireq),
            args.output)
    points.clear()  # the raw point holds the compiled model: free OpenVINO's threads before the interpreter exits


def render(command: str, before: str, after: str, medians: dict, labels: list[str], flood_bytes: int, image_bytes: int,
           nireq: int) -> str:
    lines = [
        f"\n### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}`\n",
        f"- shared machine: {os.cpu_count()} cores, other jobs running; load before `{before}`, after `{after}`",
        f"- flood: wrk, 2 connections, {flood_bytes / 1e6:.1f} MB JSON bodies (answered with as much JSON); "
        f"image: {image_bytes / 1e6:.1f} MB JSON bodies, 8 connections; tiny: concurrency 8; raw: AsyncInferQueue, nireq {nireq}\n",
        "| build | /v2/health/live p50 ms during flood | p99 ms | worst ms | flood req/s | 2.9 MB JSON req/s | "
        "tiny REST req/s | tiny gRPC req/s | tiny raw async req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    limit = medians[("raw", "tiny async")].rps
    for label in labels:
        flood = medians[(label, "flood")]
        lines.append(
            f"| {label} | {flood.p50_ms:.2f} | {flood.p99_ms:.2f} | {flood.extra['max_ms']:.1f} | {flood.rps:.2f} | "
            f"{medians[(label, 'image')].rps:.1f} | {medians[(label, 'tiny rest')].rps:,.0f} | "
            f"{medians[(label, 'tiny grpc')].rps:,.0f} | {limit:,.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
