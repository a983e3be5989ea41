"""In-process engines over real models, for tests of the core that need no server process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import openvino as ov

from ovserve.handler.engine import Engine
from ovserve.handler.settings.config import ModelConfig
from tests import models

T = TypeVar("T")


def engine_for(tmp_path: Path, **builders: ov.Model) -> Engine:
    """An engine serving each model (name=model) as version 1, at f32 precision so values can be checked."""
    configs = []
    for name, model in builders.items():
        models.write_version(tmp_path / name, 1, model)
        configs.append(ModelConfig(name=name, base_path=str(tmp_path / name), plugin_config=dict(models.F32)))
    return Engine.from_configs(configs)


def run(engine: Engine, scenario: Callable[[], Awaitable[T]]) -> T:
    """Start ``engine``, run ``scenario`` on its loop, and stop it whatever happens."""

    async def wrapped() -> T:
        await engine.start()
        try:
            return await scenario()
        finally:
            await engine.stop()

    return asyncio.run(wrapped())
