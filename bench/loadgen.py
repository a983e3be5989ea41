"""Load from a separate process: wrk for REST (HTTP/1.1), h2load for gRPC (HTTP/2).

Both are compiled, event-driven clients from Debian, so the client is not the
bottleneck on 2 cores; their own CPU use is measured (getrusage of children)
and reported. h2load posts a pre-framed gRPC message (5-byte prefix +
PredictRequest or ModelInferRequest) with the gRPC headers and logs every request's latency.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .stats import Point, summarize

_WRK_SCRIPT = """
local f = io.open(os.getenv("OVSERVE_BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("OVSERVE_BENCH_TYPE")
for line in string.gmatch(os.getenv("OVSERVE_BENCH_HEADERS") or "", "[^\\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
"""


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "h2load") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing load generators {missing}: apt-get install wrk nghttp2-client (make bench does it)")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, body: bytes, connections: int, seconds: float, server_pid: int, content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Point:
    """``headers`` are extra request headers (a v2 binary body's ``Inference-Header-Content-Length``)."""
    with tempfile.TemporaryDirectory() as scratch:
        body_file, script = Path(scratch) / "body", Path(scratch) / "post.lua"
        body_file.write_bytes(body)
        script.write_text(_WRK_SCRIPT)
        cpu_client, cpu_server, started = _children_cpu(), process_cpu(server_pid), time.perf_counter()
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, check=True,
            env={**os.environ, "OVSERVE_BENCH_BODY": str(body_file), "OVSERVE_BENCH_TYPE": content_type,
                 "OVSERVE_BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())},
        )
        elapsed = time.perf_counter() - started
    if result.stderr.strip():  # a script wrk cannot load leaves it sending GETs without a body: never a measurement
        raise RuntimeError(f"wrk: {result.stderr.strip()}")
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.MULTILINE))
    p50, p99 = (_ms(*re.match(r"([\d.]+)(\w+)", percentiles[k]).groups()) for k in ("50", "99"))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return Point(rps, p50, p99, {
        "errors": errors,
        "client_cores": (_children_cpu() - cpu_client) / elapsed,
        "server_cpu_ms_per_req": (process_cpu(server_pid) - cpu_server) * 1000 / max(requests, 1),
    })


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


def h2load(target: str, path: str, message: bytes, connections: int, seconds: float, server_pid: int) -> Point:
    with tempfile.TemporaryDirectory() as scratch:
        body_file, log_file = Path(scratch) / "body", Path(scratch) / "log"
        body_file.write_bytes(grpc_frame(message))
        cpu_client, cpu_server, started = _children_cpu(), process_cpu(server_pid), time.perf_counter()
        result = subprocess.run(
            ["h2load", "-c", str(connections), "-m", "1", "-D", str(int(seconds)), "--warm-up-time", "1",
             "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body_file),
             "--log-file", str(log_file), f"http://{target}{path}"],
            capture_output=True, text=True, check=True,
        )
        elapsed = time.perf_counter() - started
        rows = [line.split("\t") for line in log_file.read_text().splitlines() if line.strip()]
    latencies = [int(row[2]) / 1e6 for row in rows if len(row) >= 3 and row[1] == "200"]
    failed = re.search(r"(\d+) failed", result.stdout)
    point = summarize(latencies, seconds)
    point.rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", result.stdout).group(1))
    point.extra = {
        "errors": int(failed.group(1)) if failed else -1,
        "client_cores": (_children_cpu() - cpu_client) / elapsed,
        # CPU over the whole run (the warm-up second included) per request of the whole run: the log holds only
        # the measured ones, and dividing by those alone overstated the cost by (seconds + 1) / seconds.
        "server_cpu_ms_per_req": (process_cpu(server_pid) - cpu_server) * 1000 / max(point.rps * elapsed, 1),
    }
    return point


def load_arguments(doc: str, module: str, repeats: int = 3) -> tuple[argparse.Namespace, str]:
    """The load benchmarks' shared options (``--seconds``, ``--repeats``, ``--output``) and the command line to record.

    Also checks that wrk and h2load are installed, which every caller needs.
    """
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--output", default="bench/RESULTS.md")
    args = parser.parse_args()
    require_tools()
    return args, f"python -m {module} " + " ".join(shlex.quote(a) for a in sys.argv[1:])
