"""Shared fixtures: model repositories built from real OpenVINO models, and real server processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import models
from tests.serverproc import Server

F32_FLAG = ["--plugin_config", json.dumps(models.F32)]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``ovserve`` with the given flags (f32 precision added unless given); stopped at teardown."""
    started: list[Server] = []

    def start(*args: str, env: dict | None = None, wait: bool = True, f32: bool = True) -> Server:
        flags = list(args)
        if f32 and "--plugin_config" not in flags and "--config_path" not in flags:
            flags += F32_FLAG
        server = Server(flags, env=env, log_path=tmp_path / f"server{len(started)}.log")
        started.append(server)
        return server.wait_live() if wait else server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def add_repo(tmp_path: Path) -> Path:
    """A repository with the tiny add-one model as version 1."""
    base = tmp_path / "add"
    models.write_version(base, 1, models.add_one())
    return base
