"""One serving life for every long-running front end, from the first signal handler to the last log line.

The standalone server (REST and gRPC) and SageMaker's ``serve`` (one HTTP
app) differ only in what they listen on. Everything else is the same and
must stay the same: SIGTERM is honoured from the moment the loop runs, even
while models are still being discovered or compiled; ports open before any
model loads, so probes get answers at once; a stop refuses new connections,
gives requests in flight up to ``shutdown_timeout_seconds``, then stops the
engine; and a start-up failure (a bucket that cannot be listed) is raised
only after that, so ``process.run`` turns it into the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ovserve.handler.engine import Engine
from ovserve.handler.settings.server import ServerSettings

from .inflight import InFlight

Stop = Callable[[float], Awaitable[object]]
"""Stops one listener: refuse new connections, give requests in flight up to the seconds given, close."""

Listen = Callable[[Engine, InFlight], Awaitable[list[Stop]]]
"""Opens a front end's ports for the engine (counting requests with the tracker); returns how to stop each."""


def stop_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call inside the running loop)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    return stopping


async def start_unless_stopped(starting: Coroutine[Any, Any, None], stopping: asyncio.Event) -> tuple[bool, BaseException | None]:
    """Run ``starting`` until it ends or a stop is asked: (started, its failure). A stop cancels the start."""
    loop = asyncio.get_running_loop()
    start = loop.create_task(starting)
    stop = loop.create_task(stopping.wait())
    await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
    if start.done():
        stop.cancel()
        failure = start.exception()
        return failure is None, failure
    start.cancel()
    with contextlib.suppress(BaseException):
        await start
    return False, None


def engine_for(settings: ServerSettings) -> Engine:
    """The engine both front ends serve: the configured models, their storage cache, the response size limit."""
    engine = Engine.from_configs(list(settings.models), settings.cpu_extension, settings.storage_cache_dir)
    engine.max_response_bytes = settings.rest_max_response_mb << 20
    return engine


async def serve_until_stopped(
    settings: ServerSettings,
    listen: Listen,
    *,
    preload: bool,
    ready: Callable[[Engine], None],
    log: logging.Logger,
) -> None:
    """Listen, start the engine, run until SIGTERM/SIGINT, drain and stop; re-raise a start-up failure last.

    ``ready`` logs what the front end means by ready once the engine has
    started (it is not called when a stop came first or the start failed).
    ``log`` is the front end's logger, so its lines keep their origin.
    """
    stopping = stop_signals()
    engine = engine_for(settings)
    tracker = InFlight()
    stops = await listen(engine, tracker)
    starting = engine.start(preload=preload, poll_seconds=settings.file_system_poll_wait_seconds)
    started, failure = await start_unless_stopped(starting, stopping)
    if started:
        ready(engine)
        await stopping.wait()
    log.info("stopping: no new connections; waiting for requests in flight", extra={"in_flight": tracker.count})
    await asyncio.gather(*(stop(settings.shutdown_timeout_seconds) for stop in stops))
    await engine.stop()
    log.info("stopped")
    if failure is not None:
        raise failure  # e.g. StorageError: a bucket that cannot be listed at start-up
