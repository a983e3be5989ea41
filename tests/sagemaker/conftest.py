"""A fixture that starts SageMaker-mode processes and always stops them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sagemakerproc import F32_ENV, SageMakerServer


@pytest.fixture
def start_sagemaker(tmp_path: Path) -> Iterator[Callable[..., SageMakerServer]]:
    """``start_sagemaker(env, ready=True)``: f32 precision unless the env sets a plugin config."""
    started: list[SageMakerServer] = []

    def start(env: dict, ready: bool = True, args: tuple[str, ...] = ()) -> SageMakerServer:
        server = SageMakerServer({**F32_ENV, **env}, tmp_path / f"serve{len(started)}.log", args)
        started.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in started:
        server.stop()
