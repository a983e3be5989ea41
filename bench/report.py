"""What every benchmark does at its end and while it waits for a server: shared small helpers."""

from __future__ import annotations

import http.client
import subprocess
import time


def publish(report: str, output: str) -> None:
    """Append ``report`` to ``output`` (bench/RESULTS.md) and show it."""
    with open(output, "a", encoding="utf-8") as out:
        out.write(report)
    print(report)


def wait_until_ok(port: int, path: str, process: subprocess.Popen, what: str, timeout: float = 180) -> None:
    """Poll ``GET path`` on 127.0.0.1:``port`` until it answers 200; exit if ``process`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not _ok(port, path):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{what} did not become ready")
        time.sleep(0.05)


def _ok(port: int, path: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
