"""The ovserve process: exit codes for bad settings, graceful SIGTERM, logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests import models
from tests.serverproc import REPO


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ovserve.server", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--model_name", "m", "--model_path", "/x", "--rest_port", "8000", "--nireq", "abc"], "--nireq: expected an integer"),
        (["--model_name", "m", "--rest_port", "8000"], "--model_path: missing"),
        (["--rest_port", "8000"], "--config_path: missing"),
        (["--model_name", "m", "--model_path", "/x", "--rest_port", "70000"], "--rest_port: expected an integer from 0 to 65535"),
        (["--model_name", "m", "--model_path", "/x", "--rest_port", "8000", "--shape", "(1,x)"], "--shape: expected"),
        (["--model_name", "m", "--model_path", "/x", "--rest_port", "8000", "--log_level", "LOUD"], "--log_level: expected"),
        (["--model_name", "m", "--model_path", "/x", "--rest_port", "8000", "--bogus", "1"], "unrecognized arguments"),
        (["--model_name", "m", "--model_path", "s3x://b/m", "--rest_port", "8000"], "base_path"),
        (["--model_name", "m", "--model_path", "/x", "--port", "0"], "--port/--rest_port: both are 0"),
        (["--model_name", "m", "--model_path", "/x", "--grpc_channel_arguments", "novalue"], "--grpc_channel_arguments"),
    ],
)
def test_bad_settings_exit_non_zero_with_one_line(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_config_file_breaking_the_schema_exits_non_zero(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": {"name": "m"}}]}))
    result = run_cli("--config_path", str(config), "--rest_port", "8000")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "model_config_list[0].config.base_path" in result.stderr
    config.write_text("{not json")
    result = run_cli("--config_path", str(config), "--rest_port", "8000")
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_sigterm_during_preload_exits_cleanly_and_quickly(start_server, tmp_path):
    base = tmp_path / "big"
    models.write_version(base, 1, models.slow_compile())
    server = start_server("--model_name", "big", "--model_path", str(base), "--preload", wait=False)
    deadline = time.monotonic() + 60
    while "REST server listening" not in server.log_path.read_text():  # port open, compile under way
        assert server.process.poll() is None and time.monotonic() < deadline, server.read_log()
        time.sleep(0.02)
    assert server.client.get("/v2/health/ready").status_code == 503
    assert server.client.get("/v2/health/live").status_code == 200
    server.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert server.process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    assert "model version loaded" not in server.read_log()  # it stopped before the compile finished


def test_sigterm_at_spawn_stops_within_five_seconds(start_server, add_repo):
    server = start_server("--model_name", "add", "--model_path", str(add_repo), wait=False)
    server.process.send_signal(signal.SIGTERM)  # before or during imports: no handshake is possible
    started = time.monotonic()
    code = server.process.wait(timeout=5)
    assert time.monotonic() - started < 5
    assert code in (0, -signal.SIGTERM)


def test_sigterm_lets_the_request_in_flight_finish(start_server, tmp_path):
    base = tmp_path / "slow"
    models.write_version(base, 1, models.slow())
    server = start_server("--model_name", "slow", "--model_path", str(base))
    result: dict = {}

    def ask() -> None:
        response = server.client.post("/v1/models/slow:predict", json={"inputs": [1.0]})
        result["status"], result["body"] = response.status_code, response.json()

    client = threading.Thread(target=ask)
    client.start()
    deadline = time.monotonic() + 60
    while "model version loaded" not in server.log_path.read_text():  # the request is now inferring
        assert time.monotonic() < deadline, server.read_log()
        time.sleep(0.02)
    server.process.send_signal(signal.SIGTERM)
    client.join(timeout=30)
    assert result["status"] == 200
    assert result["body"]["outputs"] == pytest.approx(1.0, rel=1e-3)
    assert server.process.wait(timeout=5) == 0
    log = server.read_log()
    assert "waiting for requests in flight" in log and '"in_flight": 1' in log


def test_logs_are_json_lines_in_log_path(start_server, add_repo, tmp_path):
    log_file = tmp_path / "ovserve.log"
    server = start_server("--model_name", "add", "--model_path", str(add_repo), env={"LOG_PATH": str(log_file), "LOG_LEVEL": "DEBUG"})
    assert server.client.post("/v1/models/add:predict", json={"instances": [[0] * 10]}).status_code == 200
    assert server.stop() == 0
    entries = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    messages = [entry["msg"] for entry in entries]
    assert "REST server listening" in messages and "stopped" in messages
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in entries)
