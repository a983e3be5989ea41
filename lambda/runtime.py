"""The engine of one Lambda execution environment, and the event loop it runs on.

Lambda calls the handler synchronously (from several threads when
``AWS_LAMBDA_MAX_CONCURRENCY`` is set), while the engine is asynchronous. One
event loop runs in a daemon thread for the environment's whole life; each
invocation submits its coroutine there and waits. The loop and the engine
survive between invocations (and SnapStart snapshots), so a warm invocation
pays for neither.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ovserve.handler.errors import ConfigError

from .counting_engine import CountingEngine
from .settings import LambdaSettings

T = TypeVar("T")


class Runtime:
    """Settings, engine and loop; ``start`` discovers the models (and compiles them when preloading)."""

    def __init__(self, settings: LambdaSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="ovserve-loop", daemon=True).start()
        self.engine = CountingEngine.from_configs(list(settings.models), storage_cache_dir=settings.storage_cache_dir)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (or exception)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def start(self, compile_now: bool) -> None:
        """Find every model's versions (fetching remote ones into /tmp); raise when a model has none."""
        self.run(self.engine.start(preload=compile_now, poll_seconds=0))
        reasons = [
            f"{name} at {self.engine.model_config(name).base_path}: {reason}"
            for name, reason in self.engine.unavailable_reasons().items()
        ]
        if reasons:
            raise ConfigError(f"no servable model: {' | '.join(reasons)}; set MODEL_PATH to a model folder or s3:// URL")

    def compile_all(self) -> None:
        """Load every model's default version now (before a SnapStart snapshot, for one)."""
        self.run(self.engine.load_default_versions())

    def default_model(self) -> str:
        return self.settings.models[0].name
