"""What ovserve's own Python costs per small request, without sockets: the TF Serving and KServe v2 paths in process.

End-to-end figures on 2 shared cores move by ±10 % from run to run, which
hides a few microseconds of extra validation. This drives the same code the
servers run (``tfs_rest.handle`` for REST; parse, ``PredictionService.Predict``
and serialize for gRPC; ``v2_rest.handle`` with JSON and binary bodies; the
v2 ModelInfer handler from bytes to bytes) on the tiny [1, 10] model, so a change in per-request
work shows. ``--before PYTHON`` runs the same measurement under another build's
interpreter (e.g. a worktree of the last release in its own venv), alternating
with this one, and both land in one table.
Usage: python -m bench.request_overhead [--requests 5000] [--repeats 7] [--rounds 3] [--before PYTHON]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _measure(requests: int, repeats: int) -> dict[str, float]:
    """Median microseconds per request for each path (run inside the build being measured)."""
    import openvino as ov

    from bench.models import tiny
    from ovserve.handler.engine import Engine
    from ovserve.handler.protocols import tfs_rest, v2_rest
    from ovserve.handler.protos import grpc_service_pb2 as v2pb
    from ovserve.handler.protos import serving_apis_pb2 as apis
    from ovserve.handler.settings.config import ModelConfig
    from ovserve.server import grpc_v2
    from ovserve.server.grpc_api import PredictionService
    from ovserve.server.grpc_errors import handler
    from ovserve.server.inflight import InFlight

    folder = Path(tempfile.mkdtemp(prefix="ovserve-overhead-")) / "tiny"
    (folder / "1").mkdir(parents=True)
    ov.save_model(tiny(), str(folder / "1" / "model.xml"))
    engine = Engine.from_configs([ModelConfig(name="tiny", base_path=str(folder), plugin_config={"PERFORMANCE_HINT": "LATENCY"})])
    body = json.dumps({"instances": [[0.5] * 10]}).encode()
    request = apis.PredictRequest()
    request.model_spec.name = "tiny"
    tensor = request.inputs["x"]
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=1)
    tensor.tensor_shape.dim.add(size=10)
    tensor.tensor_content = np.ones((1, 10), np.float32).tobytes()
    message = request.SerializeToString()
    values = np.full((1, 10), 0.5, np.float32)
    v2_json = json.dumps({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": values.ravel().tolist()}]}).encode()
    header = json.dumps({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32",
                                     "parameters": {"binary_data_size": values.nbytes}}]}).encode()
    v2_binary, header_length = header + values.tobytes(), str(len(header))
    infer = v2pb.ModelInferRequest(model_name="tiny")
    infer.inputs.add(name="x", datatype="FP32", shape=[1, 10])
    infer.raw_input_contents.append(values.tobytes())
    v2_message = infer.SerializeToString()

    class _Context:
        """What the gRPC handler asks of grpc's ServicerContext."""

        async def abort(self, code: object, message: str) -> None:
            raise RuntimeError(f"{code}: {message}")

        def invocation_metadata(self) -> tuple:
            return ()

        def set_trailing_metadata(self, metadata: tuple) -> None:
            pass

    async def rest() -> None:
        await tfs_rest.handle(engine, "POST", "tiny:predict", body, "application/json", "/v1/models/tiny:predict")

    async def grpc(service: PredictionService) -> None:
        parsed = apis.PredictRequest()
        parsed.ParseFromString(message)
        (await service.Predict(parsed, None)).SerializeToString()

    async def v2_rest_call(body: bytes, length: str | None) -> None:
        answer = await v2_rest.handle(engine, "POST", "/v2/models/tiny/infer", body, length, None)
        assert answer.status == 200, answer.body

    async def timed(call) -> float:
        for _ in range(requests // 5):
            await call()
        runs = []
        for _ in range(repeats):
            began = time.perf_counter()
            for _ in range(requests):
                await call()
            runs.append((time.perf_counter() - began) / requests * 1e6)
        return statistics.median(runs)

    async def main() -> dict[str, float]:
        await engine.start()
        service = PredictionService(engine, InFlight())
        model_infer = handler(grpc_v2.InferenceService(engine, InFlight()).ModelInfer, v2pb.ModelInferRequest).unary_unary
        context = _Context()
        try:
            return {"REST": await timed(rest), "gRPC": await timed(lambda: grpc(service)),
                    "v2 REST JSON": await timed(lambda: v2_rest_call(v2_json, None)),
                    "v2 REST binary": await timed(lambda: v2_rest_call(v2_binary, header_length)),
                    "v2 gRPC": await timed(lambda: model_infer(v2_message, context))}
        finally:
            await engine.stop()

    return asyncio.run(main())


def _in(python: str, requests: int, repeats: int) -> dict[str, float]:
    code = f"import json, sys; from bench.request_overhead import _measure; print(json.dumps(_measure({requests}, {repeats})))"
    done = subprocess.run([python, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the builds, each in a fresh interpreter")
    parser.add_argument("--before", help="the interpreter of another build to compare with")
    parser.add_argument("--output", default=str(REPO / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    builds = ([("before", args.before)] if args.before else []) + [("after", sys.executable)]
    measured: dict[str, list[dict[str, float]]] = {label: [] for label, _ in builds}
    for _ in range(args.rounds):
        for label, python in builds:
            measured[label].append(_in(python, args.requests, args.repeats))
    paths = list(measured[builds[-1][0]][0])
    rows = []
    for label, runs in measured.items():
        cells = " | ".join(f"{statistics.median(r[path] for r in runs):.1f}" for path in paths)
        rows.append(f"| {label} | {cells} |")
    command = "python -m bench.request_overhead " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = (
        f"\n### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}`\n\n"
        f"- in process, tiny [1, 10] model, {args.requests} requests x {args.repeats} repeats per run, medians of "
        f"{args.rounds} runs alternating the builds\n\n"
        "| build | " + " | ".join(f"{path} µs/request" for path in paths) + " |\n"
        "|---|" + "---:|" * len(paths) + "\n" + "\n".join(rows) + "\n"
    )
    from .report import publish

    publish(report, args.output)


if __name__ == "__main__":
    main()
