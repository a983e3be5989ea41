"""Fixtures: a model folder, functions behind the emulator that are always stopped, and a module's moto S3 server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import models
from tests.lambdaproc import Emulator
from tests.storage_servers import MotoS3


@pytest.fixture
def start_function(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(env: dict) -> Emulator:
        emulator = Emulator(env, tmp_path / f"function{len(started)}.log")
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def vector_model(tmp_path: Path) -> Path:
    """/opt/ml/model stand-in: y = x + 1 over [-1, 3], versions 1 (adds 1) and 2 (adds 2)."""
    folder = tmp_path / "opt-ml-model"
    models.write_version(folder, 1, models.add_one(shape=(-1, 3), value=1.0))
    models.write_version(folder, 2, models.add_one(shape=(-1, 3), value=2.0))
    return folder


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    """A moto S3 server for the module's functions (S3 events, S3 model paths), stopped after its last test."""
    server = MotoS3()
    try:
        yield server
    finally:
        server.stop()
