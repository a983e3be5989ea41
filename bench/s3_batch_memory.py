"""Peak memory of the Lambda function while it processes one S3 batch object, per object size.

For each size, a fresh function behind the official Runtime Interface
Emulator (``python -m awslambdaric`` with ovserve's handler, S3 through moto's
server) first processes a one-row object (so the model is compiled and the
runtime warm), then the measured CSV object (``--columns`` values a row with
``--decimals`` decimals; the model adds 1 to each). The runtime's peak resident set (``VmHWM`` in
``/proc/<pid>/status``) before and after the big object gives what the object
cost; the output is checked row for row count. This is what decides the
``MemorySize`` a batch needs, and whether ``template.yaml``'s default fits.
Usage: python -m bench.s3_batch_memory [--sizes 10,50,100,200] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .report import publish

REPO = Path(__file__).resolve().parent.parent


def _csv_block(rows: int, columns: int, decimals: int, seed: int = 7) -> bytes:
    """``rows`` lines of ``columns`` random values in [0, 100) with ``decimals`` decimals."""
    values = np.random.default_rng(seed).random((rows, columns)) * 100
    return ("\n".join(",".join(f"{v:.{decimals}f}" for v in row) for row in values) + "\n").encode()


def csv_object(megabytes: int, columns: int, decimals: int) -> tuple[bytes, int]:
    """A CSV object of about ``megabytes`` MiB and its row count (a block repeated: generating is not measured)."""
    block = _csv_block(10_000, columns, decimals)
    copies = max(1, round(megabytes * 1024 * 1024 / len(block)))
    return block * copies, 10_000 * copies


def json_document(megabytes: int, columns: int, decimals: int) -> tuple[bytes, int]:
    """A ``.json`` object of about ``megabytes`` MiB that is one TF Serving document (read whole, not streamed)."""
    block = _csv_block(10_000, columns, decimals).strip().replace(b"\n", b"],[")
    copies = max(1, round(megabytes * 1024 * 1024 / (len(block) + 3)))
    return b'{"instances":[[' + b"]],[[".join([block] * copies).replace(b"]],[[", b"],[") + b"]]}", 10_000 * copies


def measure(size_mb: int, folder: Path, s3: object, env: dict, columns: int, decimals: int, kind: str = "csv") -> dict:
    from tests.lambda_events import s3_put
    from tests.lambdaproc import Emulator

    client = s3.client()  # type: ignore[attr-defined]
    body, rows = (json_document if kind == "json" else csv_object)(size_mb, columns, decimals)
    client.put_object(Bucket="bench", Key=f"in/{size_mb}.{kind}", Body=body)
    del body
    function = Emulator(env, folder / f"function-{size_mb}.log")
    try:
        status, answer = function.invoke(s3_put("bench", "in/warm-up.csv"))
        assert status == 200 and "processed" in answer, answer
        warm = function.peak_rss_mb()
        started = time.perf_counter()
        status, answer = function.invoke(s3_put("bench", f"in/{size_mb}.{kind}"))
        seconds = time.perf_counter() - started
        assert status == 200 and answer["processed"][0]["records"] == rows, answer
        peak = function.peak_rss_mb()
    finally:
        function.stop()
    out = client.head_object(Bucket="bench", Key=f"ovserve-output/in/{size_mb}.{kind}.out")["ContentLength"]
    return {"size_mb": size_mb, "rows": rows, "warm_mb": warm, "peak_mb": peak, "seconds": seconds, "out_mb": out / 2**20}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100,200", help="object sizes in MiB, comma-separated")
    parser.add_argument("--columns", type=int, default=10, help="values per CSV row (the model's input width)")
    parser.add_argument("--decimals", type=int, default=6, help="decimals per value (0: integers)")
    parser.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv: streamed rows; json: one TF Serving document, read whole")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the function (repeatable)")
    parser.add_argument("--output", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--note", default="", help="a line written under the table (what was measured)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import openvino as ov

    from tests.models import add_one, write_version
    from tests.storage_servers import MotoS3

    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    s3 = MotoS3()
    try:
        with tempfile.TemporaryDirectory(prefix="ovserve-s3-bench-") as scratch:
            folder = Path(scratch)
            write_version(folder / "model", 1, add_one(shape=(-1, args.columns), value=1.0))
            s3.create_bucket("bench")
            s3.client().put_object(Bucket="bench", Key="in/warm-up.csv", Body=",".join(["1"] * args.columns))
            env = {"MODEL_PATH": str(folder / "model"), **s3.env("bench-secret"), **dict(e.split("=", 1) for e in args.env)}
            for size in sizes:
                results.append(measure(size, folder, s3, env, args.columns, args.decimals, args.format))
                print(results[-1], flush=True)
    finally:
        s3.stop()
    lines = [
        "",
        f"## Lambda S3 batch objects: peak memory per object size ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`python -m bench.s3_batch_memory {' '.join(sys.argv[1:])}` (OpenVINO {ov.get_version().split('-')[0]}, "
        f"{os.cpu_count()} cores). A fresh function per size behind the Runtime Interface Emulator, S3 in moto's server; "
        f"{'CSV rows' if args.format == 'csv' else 'one JSON document of instances'} of {args.columns} values with "
        f"{args.decimals} decimals, a model adding 1. \"warm\" is the runtime's peak RSS after a "
        "one-row object (model compiled), \"peak\" after the measured object.",
        "",
        "| object | rows | warm peak RSS | peak RSS | peak − warm | × object size | time | output |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        extra = r["peak_mb"] - r["warm_mb"]
        lines.append(f"| {r['size_mb']} MiB | {r['rows']:,} | {r['warm_mb']:.0f} MB | {r['peak_mb']:.0f} MB | {extra:.0f} MB | "
                     f"{extra / r['size_mb']:.1f} | {r['seconds']:.1f} s | {r['out_mb']:.0f} MiB |")
    if args.note:
        lines += ["", args.note]
    publish("\n".join(lines) + "\n", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
