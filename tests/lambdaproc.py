"""The official Lambda Runtime Interface Emulator in front of ``python -m awslambdaric`` with ovserve's handler.

``make test`` extracts the emulator from the aws-sam-cli wheel into ``.rie/``
(``OVSERVE_RIE`` may point elsewhere). The emulator and the runtime API bind
free loopback ports; the emulator starts the runtime on the first invocation,
as Lambda does with a cold start.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import models
from tests.serverproc import REPO, terminate

HANDLER = "ovserve.aws_lambda.handler.handler"
F32_ENV = {"OVSERVE_PLUGIN_CONFIG": json.dumps(models.F32)}


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the OS just handed out (held open together, so they cannot repeat)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def rie_path() -> str:
    path = os.environ.get("OVSERVE_RIE") or str(REPO / ".rie" / "aws-lambda-rie")
    assert Path(path).exists(), f"no Runtime Interface Emulator at {path}: run `make test` (it extracts it from aws-sam-cli)"
    return path


class Emulator:
    """A function behind the emulator; ``invoke(event)`` returns (HTTP status, decoded answer)."""

    def __init__(self, env: dict, log_path: Path, command: list[str] | None = None, f32: bool = True) -> None:
        """``command`` starts the runtime (default: this Python's awslambdaric with ovserve's handler)."""
        self.log_path = log_path
        scrubbed = {k: v for k, v in os.environ.items() if not k.startswith(("OVSERVE_", "MODEL_", "PRELOAD"))}
        self._env = {**scrubbed, "AWS_LAMBDA_FUNCTION_TIMEOUT": "120", "HOME": str(log_path.parent),
                     **(F32_ENV if f32 else {}), **env}
        command = command or [sys.executable, "-m", "awslambdaric", HANDLER]
        for _ in range(5):  # a port handed out as free can be taken before the emulator binds it: pick others
            if self._start(command):
                break
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=180)

    def _start(self, command: list[str]) -> bool:
        """Start the emulator; False when one of its ports was taken meanwhile."""
        self.port, api_port = free_ports(2)
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [rie_path(), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{api_port}", "--log-level", "error", *command],
            env=self._env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.log_path.parent,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                log = self.read_log()
                self._log.close()
                assert "address already in use" in log, f"emulator exited: {log}"
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                assert time.monotonic() < deadline, f"emulator not listening after 30 s: {self.read_log()}"
                time.sleep(0.02)

    def invoke(self, event: object) -> tuple[int, object]:
        reply = self.client.post("/2015-03-31/functions/function/invocations", content=json.dumps(event))
        return reply.status_code, reply.json()

    def read_log(self, tail: int | None = 6000) -> str:
        """The function's output so far: its last ``tail`` characters, or all of it (``tail=None``)."""
        self._log.flush()
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return text if tail is None else text[-tail:]

    def runtime_pid(self) -> int:
        """The runtime process the emulator started (its one child; it exists once the first invocation began)."""
        children: list[str] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children += (task / "children").read_text().split()
        assert len(children) == 1, f"expected one runtime process under the emulator, found {children}"
        return int(children[0])

    def peak_rss_mb(self) -> float:
        """The runtime's peak resident set so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.runtime_pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc/<pid>/status")

    def cold_starts(self) -> int:
        """How many times the runtime has run init so far (a crash makes the next invocation init again)."""
        return self.read_log(tail=None).count('"msg": "init done"')

    def stop(self) -> None:
        self.client.close()
        terminate(self.process, 10)
        self._log.close()
