"""What a CPU quota does to OpenVINO's threading, in the real server image, under podman ``--cpus``.

Two measurements, each in a fresh container of ``localhost/ovserve:test`` (built by the image tests):
1. What OpenVINO itself chooses (``NUM_STREAMS``, ``INFERENCE_NUM_THREADS``, optimal infer requests) under each
   quota, for the LATENCY and THROUGHPUT hints, and the raw rate and latency with each infer request kept busy:
   a small script run inside the container with raw OpenVINO.
2. The served throughput and latency of a MobileNet-shaped model (bench/models.py, ~5 ms of work a row) over
   KServe v2 REST binary, closed loop from the host, with OpenVINO's own thread count and with the count fitted
   to the quota (``INFERENCE_NUM_THREADS`` given explicitly in both, so the figures do not depend on which
   server version the image holds).

Not a test and not part of ``make bench``: it answers "does the quota need handling?" (handler/cpu_quota.py).
Usage: .venv/bin/python -m tools.measure_cpu_quota [SECONDS_PER_RUN] [REPEATS] [raw]   (raw: measurement 1 only)
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import openvino as ov

from bench.models import mobilenet
from tests.images import podman as pm
from tests.serverproc import free_port

IMAGE = "localhost/ovserve:test"
PROBE = """
import json, os, sys, time
import numpy as np
import openvino as ov
core = ov.Core()
model = core.read_model("/models/m/1/model.xml")
data = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
seconds, extra = float(sys.argv[1]), json.loads(sys.argv[2])

def throttling():  # periods run and periods throttled so far, from cpu.stat (cgroup v1 or v2)
    for path in ("/sys/fs/cgroup/cpu/cpu.stat", "/sys/fs/cgroup/cpu.stat"):
        if os.path.exists(path):
            stat = dict(line.split() for line in open(path))
            return int(stat.get("nr_periods", 0)), int(stat.get("nr_throttled", 0))
    return 0, 0

for hint in ("LATENCY", "THROUGHPUT"):
    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": "f32", **extra})
    chosen = {key: int(compiled.get_property(key)) for key in ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS")}
    queue = ov.AsyncInferQueue(compiled, chosen["OPTIMAL_NUMBER_OF_INFER_REQUESTS"])
    latencies = []
    queue.set_callback(lambda request, started: latencies.append(time.perf_counter() - started))
    for _ in range(5):
        queue.start_async({0: data}, time.perf_counter())
    queue.wait_all()
    latencies.clear()
    periods, throttled = throttling()
    deadline = time.perf_counter() + seconds
    begun = time.perf_counter()
    while time.perf_counter() < deadline:
        queue.start_async({0: data}, time.perf_counter())
    queue.wait_all()
    elapsed = time.perf_counter() - begun
    periods, throttled = (now - before for now, before in zip(throttling(), (periods, throttled)))
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(json.dumps({"hint": hint, "affinity": len(os.sched_getaffinity(0)), **chosen,
                      "inferences_per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(1000 * p50, 1),
                      "p99_ms": round(1000 * p99, 1), "throttled_periods": round(throttled / max(periods, 1), 2)}))
"""

def openvino_choices(models: Path, cpus: str | None, seconds: float, properties: dict) -> list[dict]:
    """What OpenVINO compiles under the quota, and the raw rate and latency with every infer request busy."""
    quota = ["--cpus", cpus] if cpus else []
    done = pm.podman("run", "--rm", *quota, "-v", f"{models}:/models:ro", "--entrypoint", "python", IMAGE, "-c", PROBE,
                     str(seconds), json.dumps(properties))
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def infer_body() -> tuple[bytes, dict]:
    data = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32).tobytes()
    header = json.dumps({"inputs": [{"name": "image", "shape": [1, 3, 224, 224], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(data)}}],
                         "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}).encode()
    return header + data, {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}


async def closed_loop(url: str, concurrency: int, seconds: float) -> dict:
    body, headers = infer_body()
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        for _ in range(3):  # warm up: compile caches, connection set-up
            (await client.post(url, content=body, headers=headers)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                (await client.post(url, content=body, headers=headers)).raise_for_status()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def served(models: Path, cpus: str | None, properties: dict, concurrency: int, seconds: float) -> dict:
    port = free_port()
    quota = ["--cpus", cpus] if cpus else []
    config = json.dumps({"INFERENCE_PRECISION_HINT": "f32", **properties})
    cid = pm.podman("run", "-d", "--network=host", *pm.limits(), *quota, "-v", f"{models}:/models:ro", IMAGE,
                    "--model_name", "m", "--model_path", "/models/m", "--rest_port", str(port), "--rest_bind_address",
                    "127.0.0.1", "--port", "0", "--preload", "--plugin_config", config).stdout.strip()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(pm.podman("logs", cid, check=False).stderr[-2000:])
            time.sleep(0.1)
        return asyncio.run(closed_loop(f"http://127.0.0.1:{port}/v2/models/m/infer", concurrency, seconds))
    finally:
        pm.podman("rm", "-f", "-t", "0", cid, check=False)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so a stopped run still removes its container
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="ovserve-quota-") as scratch:
        models = Path(scratch)
        (models / "m" / "1").mkdir(parents=True)
        ov.save_model(mobilenet(batch=1), models / "m" / "1" / "model.xml", compress_to_fp16=False)
        models.chmod(0o755)
        raw_cases = [(None, "OpenVINO's choice", {}), ("1", "OpenVINO's choice", {}),
                     ("1", "fitted (1 thread)", {"INFERENCE_NUM_THREADS": 1}),
                     ("1.5", "OpenVINO's choice (kept: 1.5 rounds to 2)", {}), ("1.5", "1 thread", {"INFERENCE_NUM_THREADS": 1})]
        raw: dict[tuple, list[dict]] = {}
        for _ in range(repeats):
            for cpus, label, extra in raw_cases:
                for choice in openvino_choices(models, cpus, seconds, extra):
                    raw.setdefault((cpus or "unlimited", label, choice["hint"]), []).append(choice)
        for (cpus, label, _), results in raw.items():
            medians = {key: statistics.median(r[key] for r in results)
                       for key in ("inferences_per_s", "p50_ms", "p99_ms", "throttled_periods")}
            print(json.dumps({"raw OpenVINO": f"--cpus {cpus}, {label}", **results[0], **medians,
                              "runs": [r["inferences_per_s"] for r in results]}), flush=True)
        if sys.argv[3:] == ["raw"]:
            return
        cases = [(None, "OpenVINO's choice", {}), ("1", "OpenVINO's choice (2 threads)", {"INFERENCE_NUM_THREADS": 2}),
                 ("1", "fitted (1 thread)", {"INFERENCE_NUM_THREADS": 1})]
        for hint in ("LATENCY", "THROUGHPUT"):
            for concurrency in (1, 4):
                runs: dict[str, list[dict]] = {}
                for _ in range(repeats):  # interleaved, so a noisy neighbour hits every case alike
                    for cpus, label, extra in cases:
                        result = served(models, cpus, {"PERFORMANCE_HINT": hint, **extra}, concurrency, seconds)
                        runs.setdefault(f"--cpus {cpus or 'unlimited'}, {label}", []).append(result)
                for label, results in runs.items():
                    summary = {key: round(statistics.median(r[key] for r in results), 1) for key in results[0]}
                    print(json.dumps({"hint": hint, "concurrency": concurrency, "case": label, **summary,
                                      "runs": [round(r["rps"], 1) for r in results]}), flush=True)


if __name__ == "__main__":
    main()
