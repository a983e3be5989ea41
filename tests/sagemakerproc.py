"""Starting the real SageMaker-mode process (``python -m ovserve.sagemaker serve``) on a free port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import models
from tests.serverproc import REPO, free_port, terminate

F32_ENV = {"OVSERVE_PLUGIN_CONFIG": json.dumps(models.F32)}


class SageMakerServer:
    """``serve`` with SageMaker's environment; ``client`` talks to its port."""

    def __init__(self, env: dict, log_path: Path, args: tuple[str, ...] = (), command: list[str] | None = None,
                 cwd: Path = REPO) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115
        full_env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": str(self.port), **env}
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "ovserve.sagemaker"]), "serve", *args],
            env=full_env, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_listening(self, timeout: float = 60) -> SageMakerServer:
        """Until /ping answers at all (any status)."""
        return self._wait(lambda status: True, timeout)

    def wait_ready(self, timeout: float = 60) -> SageMakerServer:
        """Until /ping answers 200."""
        return self._wait(lambda status: status == 200, timeout)

    def _wait(self, accept, timeout: float) -> SageMakerServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.read_log()}")
            try:
                if accept(self.client.get("/ping").status_code):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"/ping not as expected after {timeout}s: {self.read_log()}")

    def read_log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-6000:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        self.client.close()
        terminate(self.process, timeout)
        self._log.close()
        return self.process.returncode
