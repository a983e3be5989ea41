"""Spawn -> first correct REST answer, as a user starts ovserve; and the peak RSS it took."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .stats import Point


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_answer(base_path: Path, body: bytes, check, extra_flags: list[str], timeout: float = 120) -> Point:
    """Seconds from Popen to the first predict whose answer passes ``check``."""
    rest, grpc = free_port(), free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ovserve.server", "--model_name", "m", "--model_path", str(base_path),
         "--rest_port", str(rest), "--rest_bind_address", "127.0.0.1", "--port", str(grpc),
         "--grpc_bind_address", "127.0.0.1", *extra_flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{rest}/v1/models/m:predict", data=body, headers={"Content-Type": "application/json"}
        )
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    answer = json.loads(response.read())
                if check(answer):
                    seconds = time.perf_counter() - started
                    return Point(1 / seconds, seconds * 1000, seconds * 1000, {"peak_rss_mb": _peak_rss_mb(process.pid)})
                raise RuntimeError(f"wrong answer: {str(answer)[:200]}")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.002)  # not listening yet: this is the cold start being measured
        raise TimeoutError("no answer")
    finally:
        process.terminate()
        process.wait(30)
