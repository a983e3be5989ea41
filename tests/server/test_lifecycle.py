"""The one serving life both front ends share, in process: what runs in which order when a stop or a failure comes.

The real processes (tests/e2e/test_lifecycle.py, tests/sagemaker/test_lifecycle.py)
show the signals and exit codes; these pin the order the processes rely on:
listeners before the engine starts, drain before the engine stops, a start-up
failure raised only after both.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from ovserve.handler.errors import StorageError
from ovserve.server import lifecycle
from ovserve.server.sanic_app import build_app

SETTINGS = SimpleNamespace(file_system_poll_wait_seconds=1.0, shutdown_timeout_seconds=7.0)


class FakeEngine:
    def __init__(self, events: list, *, blocks: bool = False, failure: Exception | None = None) -> None:
        self.events, self.blocks, self.failure = events, blocks, failure

    async def start(self, preload: bool = False, poll_seconds: float = 0) -> None:
        self.events.append(("start", preload, poll_seconds))
        try:
            if self.blocks:
                await asyncio.get_running_loop().create_future()  # never finishes on its own
        except asyncio.CancelledError:
            self.events.append("start cancelled")
            raise
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        self.events.append("engine stopped")


def life(monkeypatch, engine: FakeEngine, stopping: asyncio.Event, *, preload: bool = True):
    """``serve_until_stopped`` with a fake engine, one fake listener and ``stopping`` in place of the signals."""
    events = engine.events
    monkeypatch.setattr(lifecycle, "engine_for", lambda settings: engine)
    monkeypatch.setattr(lifecycle, "stop_signals", lambda: stopping)

    async def stop(timeout: float) -> None:
        events.append(("drained", timeout))

    async def listen(got_engine, tracker) -> list:
        assert got_engine is engine
        events.append("listening")
        return [stop]

    return lifecycle.serve_until_stopped(SETTINGS, listen, preload=preload, ready=lambda e: events.append("ready"),
                                         log=logging.getLogger("test"))


def stop_once_seen(monkeypatch, engine: FakeEngine, seen: object, *, preload: bool = True) -> None:
    """Run the life and ask it to stop as soon as ``seen`` is among the engine's events."""

    async def main() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(life(monkeypatch, engine, stopping, preload=preload))
        while seen not in engine.events:
            await asyncio.sleep(0)
        stopping.set()
        await task

    asyncio.run(main())


def test_a_stop_after_start_drains_then_stops_the_engine(monkeypatch):
    engine = FakeEngine([])
    stop_once_seen(monkeypatch, engine, "ready", preload=False)
    assert engine.events == ["listening", ("start", False, 1.0), "ready", ("drained", 7.0), "engine stopped"]


def test_a_stop_during_start_cancels_it_and_still_drains(monkeypatch):
    engine = FakeEngine([], blocks=True)
    stop_once_seen(monkeypatch, engine, ("start", True, 1.0))
    assert engine.events == ["listening", ("start", True, 1.0), "start cancelled", ("drained", 7.0), "engine stopped"]


def test_a_start_failure_is_raised_after_draining_and_stopping(monkeypatch):
    events: list = []
    engine = FakeEngine(events, failure=StorageError("cannot list s3://bucket/model"))
    with pytest.raises(StorageError, match="cannot list"):
        asyncio.run(life(monkeypatch, engine, asyncio.Event()))
    assert events == ["listening", ("start", True, 1.0), ("drained", 7.0), "engine stopped"]


def test_both_apps_share_limits_and_differ_only_in_parameters():
    rest = build_app("ovserve", max_body_mb=3, errors=error_handler)
    sagemaker = build_app("ovserve_sagemaker", max_body_mb=5, errors=error_handler, keep_alive_timeout=75)
    assert rest.name != sagemaker.name and rest.name.startswith("ovserve_")
    assert (rest.config.REQUEST_MAX_SIZE, sagemaker.config.REQUEST_MAX_SIZE) == (3 << 20, 5 << 20)
    assert sagemaker.config.KEEP_ALIVE_TIMEOUT == 75 and rest.config.KEEP_ALIVE_TIMEOUT == 120  # Sanic's default
    for app in (rest, sagemaker):
        assert (app.config.RESPONSE_TIMEOUT, app.config.REQUEST_TIMEOUT) == (3600, 60)
        assert app.config.FALLBACK_ERROR_FORMAT == "json" and not app.config.NOISY_EXCEPTIONS and not app.config.MOTD
        assert app.error_handler.lookup(ValueError("x"), None) is error_handler


def error_handler(request, exc):
    return None
