"""Calling the engine from a script thread: the coroutine runs on the event loop, the thread waits for it.

The engine lives on the event loop; a script's default ``predict_fn``, an
``input_handler``'s in-process predict, and ``model.predict`` all run on script
threads. ``LoopBridge.call`` schedules the coroutine on the loop, in the
calling thread's ``contextvars`` (the request's id stays on its log lines),
and blocks the thread, never the loop, until it is done. Called on the loop's
own thread it would wait forever, so it refuses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    """Runs coroutines on ``loop`` for code on other threads; made on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._loop_thread = threading.get_ident() if loop is None else None

    def call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``await make()`` on the loop; returns its result or raises its exception, in this thread."""
        if self._loop_thread == threading.get_ident():
            raise RuntimeError("a script hook was called on the event loop's thread; it must run on a script thread")
        context = contextvars.copy_context()
        done: concurrent.futures.Future = concurrent.futures.Future()

        def start() -> None:
            task = self.loop.create_task(make(), context=context)
            task.add_done_callback(lambda finished: _settle(done, finished))

        self.loop.call_soon_threadsafe(start)
        return done.result()


def _settle(done: concurrent.futures.Future, task: asyncio.Task) -> None:
    if task.cancelled():
        done.set_exception(concurrent.futures.CancelledError())
    elif task.exception() is not None:
        done.set_exception(task.exception())
    else:
        done.set_result(task.result())
