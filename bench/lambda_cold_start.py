"""Lambda cold starts, next to raw OpenVINO in the same run.

For each model (the bundled temperature example, and the ResNet-50-shaped
benchmark model) and each start mode, the median over ``--repeats`` of:
* init: ``import ovserve.aws_lambda.handler`` (settings, model discovery) in a fresh interpreter;
* first answer: the official Runtime Interface Emulator spawned in front of
  ``python -m awslambdaric`` -> the first direct invocation's answer (Lambda's
  cold start: process start, imports, init, compile or cache load, inference);
* raw: a fresh interpreter importing OpenVINO, compiling (or loading from the
  same cache) and inferring once, which is the floor for any server.
The emulator comes from ``.rie/`` (``make test`` extracts it) or ``OVSERVE_RIE``.
Usage: python -m bench.lambda_cold_start [--repeats 5] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

import openvino as ov

from . import models
from .report import publish

REPO = Path(__file__).resolve().parent.parent
_RAW = """
import sys, time, numpy as np
started = time.perf_counter()
import openvino as ov
core = ov.Core()
props = {"CACHE_DIR": sys.argv[2]} if sys.argv[2] else {}
compiled = core.compile_model(core.read_model(sys.argv[1]), "CPU", props)
shape = [d if d > 0 else 1 for d in compiled.inputs[0].get_partial_shape().get_min_shape()]
compiled({0: np.zeros(shape, np.float32)})
print(time.perf_counter() - started)
"""


def _ports() -> tuple[int, int]:
    sockets = [socket.socket() for _ in range(2)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = tuple(sock.getsockname()[1] for sock in sockets)
    for sock in sockets:
        sock.close()
    return ports  # type: ignore[return-value]


def init_seconds(env: dict) -> float:
    code = "import time; t = time.perf_counter(); import ovserve.aws_lambda.handler; print(time.perf_counter() - t)"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def first_answer_seconds(env: dict, event: dict, scratch: Path) -> float:
    rie = os.environ.get("OVSERVE_RIE") or str(REPO / ".rie" / "aws-lambda-rie")
    port, api = _ports()
    started = time.perf_counter()
    process = subprocess.Popen(
        [rie, "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api}",
         "--log-level", "error", sys.executable, "-m", "awslambdaric", "ovserve.aws_lambda.handler.handler"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch,
    )
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations",
                                         data=json.dumps(event).encode())
        while True:
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    answer = json.loads(reply.read())
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("the emulator did not answer") from None
                time.sleep(0.002)  # not listening yet: part of the cold start being measured
        if "errorMessage" in answer:
            raise RuntimeError(answer["errorMessage"])
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(30)


def _uncached_answer(env: dict, event: dict, scratch: Path) -> float:
    """A cold start with an empty cache folder of its own: the model compiles."""
    return first_answer_seconds({**env, "OVSERVE_CACHE_DIR": tempfile.mkdtemp(dir=scratch)}, event, scratch)


def raw_seconds(model_xml: Path, cache: str) -> float:
    run = subprocess.run([sys.executable, "-c", _RAW, str(model_xml), cache], capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="bench/RESULTS.md")
    args = parser.parse_args()
    command = "python -m bench.lambda_cold_start " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-bench-lambda-"))
    bench_models = models.write(scratch / "models")
    cases = {
        "temperature (example)": (REPO / "examples" / "models" / "temperature", {"instances": [0, 100]}),
        "resnet50": (bench_models["resnet50"], {"inputs": [[[[0.0] * 224] * 224] * 3]}),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OVSERVE_", "MODEL_", "PRELOAD"))}
    rows = []
    for label, (model_dir, event) in cases.items():
        baked = scratch / f"cache-{label.split()[0]}"
        env = {**base, "MODEL_PATH": str(model_dir), "HOME": str(scratch)}
        subprocess.run([sys.executable, "-m", "ovserve.aws_lambda.bake"], env={**env, "OVSERVE_CACHE_DIR": str(baked)},
                       check=True, capture_output=True)
        model_xml = next(model_dir.glob("*/model.xml"))
        fresh_cache = {**env, "OVSERVE_CACHE_DIR": str(scratch / "unused")}
        modes = {
            "init (import + discovery)": partial(init_seconds, fresh_cache),
            "first answer, no cache": partial(_uncached_answer, env, event, scratch),
            "first answer, baked cache": partial(first_answer_seconds, {**env, "OVSERVE_CACHE_DIR": str(baked)}, event, scratch),
            "first answer, baked cache, PRELOAD=1": partial(
                first_answer_seconds, {**env, "OVSERVE_CACHE_DIR": str(baked), "PRELOAD": "1"}, event, scratch),
            "raw OpenVINO: import, compile, infer": partial(raw_seconds, model_xml, ""),
            "raw OpenVINO: import, cache load, infer": partial(raw_seconds, model_xml, str(baked)),
        }
        measured: dict[str, list[float]] = {mode: [] for mode in modes}
        for repeat in range(args.repeats):
            for mode, run in modes.items():
                print(f"[{repeat + 1}/{args.repeats}] {label}: {mode}", file=sys.stderr, flush=True)
                measured[mode].append(run())
        rows += [(label, mode, statistics.median(values)) for mode, values in measured.items()]
    shutil.rmtree(scratch, ignore_errors=True)
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` (Lambda cold start)\n",
        f"- machine: {os.cpu_count()} cores, OpenVINO {ov.__version__.split('-')[0]}; medians of {args.repeats} interleaved repeats; "
        "first answer = emulator spawn to the first direct invocation's answer\n",
        "| model | measure | seconds |",
        "|---|---|---:|",
        *[f"| {label} | {mode} | {seconds:.3f} |" for label, mode, seconds in rows],
        "",
    ]
    publish("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
