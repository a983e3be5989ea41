"""Starting the real ``ovserve`` process on a free loopback port, and stopping it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port the OS just handed out for 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class Server:
    """A running ``python -m ovserve.server``; ``url`` is its REST base address."""

    def __init__(self, args: list[str], env: dict | None = None, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.grpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        full_env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ovserve.server", "--rest_port", str(self.port),
             "--rest_bind_address", "127.0.0.1", "--port", str(self.grpc_port),
             "--grpc_bind_address", "127.0.0.1", *args],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT if log_path else subprocess.PIPE,
            cwd=REPO,
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_live(self, timeout: float = 60) -> Server:
        """Poll the liveness probe until it answers (or the process dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.read_log()}")
            try:
                if self.client.get("/v2/health/ready").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s: {self.read_log()}")

    def read_log(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text()[-4000:]
        if self.process.stderr and self.process.poll() is not None:
            return self.process.stderr.read().decode(errors="replace")[-4000:]
        return ""

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds; returns the exit code."""
        self.client.close()
        terminate(self.process, timeout)
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        if self.process.stderr:
            self.process.stderr.close()
        return self.process.returncode


def write_config(root: Path, builders: dict, with_versions: bool = False) -> Path:
    """A repository with each model as version 1 and an OVMS config.json serving them all in f32.

    ``with_versions`` adds ``versions``: x + 1 as version 1 and x + 2 as version 2, all served, for tests that
    address a version.
    """
    from tests import models

    entries = []
    for name, model in builders.items():
        models.write_version(root / name, 1, model)
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32}})
    if with_versions:
        models.write_version(root / "versions", 1, models.add_one(value=1.0))
        models.write_version(root / "versions", 2, models.add_one(value=2.0))
        entries.append({"config": {"name": "versions", "base_path": str(root / "versions"), "plugin_config": models.F32,
                                   "model_version_policy": {"all": {}}}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    return config


@contextlib.contextmanager
def serving(root: Path, builders: dict) -> Iterator[Server]:
    """One ready server for ``builders`` (name -> model); checks it survived, then stops it."""
    yield from live_until_done(Server(["--config_path", str(write_config(root, builders))], log_path=root / "server.log"))


def live_until_done(started: Server) -> Iterator[Server]:
    """A module fixture's body: wait until ``started`` is live, yield it, check it never died, and stop it."""
    try:
        yield started.wait_live()
        assert started.process.poll() is None, f"server died while in use: {started.read_log()}"
    finally:
        started.stop()


def ready_channel(server: Server, timeout: float = 30) -> Iterator[grpc.Channel]:
    """A gRPC channel to ``server``, connected before it is handed out and closed afterwards."""
    with grpc.insecure_channel(server.grpc_target) as opened:
        grpc.channel_ready_future(opened).result(timeout=timeout)
        yield opened
