"""Running blocking work (file reads, model compiles) off the event loop.

The threads are daemons: a SIGTERM during a minute-long compile must not
wait for it. ``concurrent.futures`` worker threads are joined at exit, which
would do exactly that.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def outcome(work: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    """``(result, None)`` or ``(None, error)``: what a worker thread hands back to the loop."""
    try:
        return work(), None
    except StopIteration as exc:  # a future cannot carry StopIteration itself
        return None, RuntimeError(f"work raised StopIteration: {exc}")
    except BaseException as exc:  # handed to the awaiting coroutine
        return None, exc


def settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    """Resolve ``future`` (on its loop) unless its caller gave up meanwhile; a late result is dropped."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def hand_back(loop: asyncio.AbstractEventLoop, future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    """From a worker thread: settle ``future`` on ``loop``; nothing to do once the loop is gone (shutdown)."""
    try:
        loop.call_soon_threadsafe(settle, future, result, error)
    except RuntimeError:  # the loop is closed: the process is shutting down
        pass


def run_in_daemon_thread(work: Callable[[], T], name: str = "ovserve-work") -> asyncio.Future[T]:
    """Start ``work`` on a new daemon thread; the returned future resolves on the caller's loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def body() -> None:
        hand_back(loop, future, *outcome(work))

    threading.Thread(target=body, name=name, daemon=True).start()
    return future


class DaemonPool:
    """A fixed number of daemon worker threads fed from one queue; started on first use.

    For work that releases the GIL (image decoding): ``workers`` of them run at once, in arrival order, and
    nothing waits for them at exit. ``offload`` keeps its own single worker for GIL-bound codec work.
    """

    def __init__(self, workers: int, name: str) -> None:
        self.workers = workers
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._started = 0
        self._lock = threading.Lock()

    def _work(self) -> None:
        while True:
            work, loop, future = self._jobs.get()
            hand_back(loop, future, *outcome(work))
            del work, future  # drop large results now, not when the next job arrives

    def _ensure_started(self) -> None:
        if self._started == self.workers:
            return
        with self._lock:
            while self._started < self.workers:
                threading.Thread(target=self._work, name=f"{self.name}-{self._started}", daemon=True).start()
                self._started += 1

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on one of the pool's threads, in a copy of the caller's context (its log lines carry the
        request's id), and return (or raise) what it did."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        context = contextvars.copy_context()
        self._jobs.put((lambda: context.run(work), loop, future))
        return await future
