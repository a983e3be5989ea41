"""Running blocking work (file reads, model compiles) off the event loop.

The threads are daemons: a SIGTERM during a minute-long compile must not
wait for it. ``concurrent.futures`` worker threads are joined at exit, which
would do exactly that.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_in_daemon_thread(work: Callable[[], T], name: str = "ovserve-work") -> asyncio.Future[T]:
    """Start ``work`` on a new daemon thread; the returned future resolves on the caller's loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def body() -> None:
        try:
            result, error = work(), None
        except StopIteration as exc:  # a future cannot carry StopIteration itself
            result, error = None, RuntimeError(f"work raised StopIteration: {exc}")
        except BaseException as exc:  # handed to the awaiting coroutine
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is gone: the process is shutting down
            pass

    threading.Thread(target=body, name=name, daemon=True).start()
    return future
