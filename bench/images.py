"""Container images: their sizes, and container start -> first correct answer, with podman.

Builds both images as the test suite does (``tests/images/podman.py``: a local stand-in for the base image, chroot
builds, no registry), then for ``--repeats`` rounds starts:
* the server image in SageMaker mode (``serve``, the example model mounted at /opt/ml/model) until ``/invocations``
  answers correctly;
* the Lambda image read-only as a non-root user behind the Runtime Interface Emulator until a direct invocation answers
  (compiled-model cache baked at build time).
Medians are appended to bench/RESULTS.md.
Usage: python -m bench.images [--repeats 5] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
import urllib.request

from bench.report import publish
from tests.images import podman as pm
from tests.lambdaproc import free_ports, rie_path
from tests.serverproc import REPO

SERVER, LAMBDA = "localhost/ovserve:bench", "localhost/ovserve-lambda:bench"
EXAMPLE = REPO / "examples" / "models" / "temperature"


def _first_answer(url: str, body: bytes, headers: dict, check, cid: str, started: float) -> float:
    request = urllib.request.Request(url, data=body, headers=headers)
    while time.perf_counter() - started < 120:
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                answer = json.loads(reply.read())
            if check(answer):
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)  # not answering yet: part of what is measured
    raise RuntimeError(pm.podman("logs", cid, check=False).stderr[-2000:])


def sagemaker_start() -> float:
    (port,) = free_ports(1)
    started = time.perf_counter()
    cid = pm.podman("run", "-d", "--network=host", *pm.limits(), "-v", f"{EXAMPLE}:/opt/ml/model:ro",
                    "-e", f"SAGEMAKER_BIND_TO_PORT={port}", SERVER, "serve").stdout.strip()
    try:
        return _first_answer(f"http://127.0.0.1:{port}/invocations", b"0\n100", {"Content-Type": "text/csv"},
                             lambda a: round(a["predictions"][1]["fahrenheit"]) == 212, cid, started)
    finally:
        pm.podman("rm", "-f", "-t", "0", cid, check=False)


def lambda_start() -> float:
    port, api = free_ports(2)
    started = time.perf_counter()
    cid = pm.podman("run", "-d", "--network=host", *pm.limits(), "--read-only", "--user", "1000", "--tmpfs", "/tmp",
                    "-v", f"{rie_path()}:/aws-lambda/aws-lambda-rie:ro", "--entrypoint", "/aws-lambda/aws-lambda-rie", LAMBDA,
                    "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api}",
                    "/usr/local/bin/python", "-m", "awslambdaric", "ovserve.aws_lambda.handler.handler").stdout.strip()
    try:
        return _first_answer(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations",
                             json.dumps({"instances": [0, 100]}).encode(), {},
                             lambda a: round(a["predictions"][1]["fahrenheit"]) == 212, cid, started)
    finally:
        pm.podman("rm", "-f", "-t", "0", cid, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="bench/RESULTS.md")
    args = parser.parse_args()
    command = "python -m bench.images " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    pm.ensure_tools()
    pm.ensure_base_image()
    builds = {}
    for dockerfile, tag in (("Dockerfile", SERVER), ("Dockerfile.lambda", LAMBDA)):
        began = time.perf_counter()
        pm.build(REPO / dockerfile, tag, REPO)
        builds[tag] = time.perf_counter() - began
    starts: dict[str, list[float]] = {"server image, `serve` (SageMaker)": [], "Lambda image behind the RIE, read-only": []}
    for repeat in range(args.repeats):
        print(f"[{repeat + 1}/{args.repeats}] starting containers", file=sys.stderr, flush=True)
        starts["server image, `serve` (SageMaker)"].append(sagemaker_start())
        starts["Lambda image behind the RIE, read-only"].append(lambda_start())
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` (container images, podman)\n",
        "| image | size MB | goal MB | build s (this run) |",
        "|---|---:|---:|---:|",
        f"| server (`Dockerfile`) | {pm.image_size_mb(SERVER):.0f} | 700 | {builds[SERVER]:.0f} |",
        f"| Lambda (`Dockerfile.lambda`) | {pm.image_size_mb(LAMBDA):.0f} | 600 | {builds[LAMBDA]:.0f} |",
        "",
        f"| container start -> first correct answer (example model, median of {args.repeats}) | seconds |",
        "|---|---:|",
        *[f"| {label} | {statistics.median(values):.2f} |" for label, values in starts.items()],
        "",
    ]
    publish("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
