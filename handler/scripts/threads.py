"""The threads scripts run on: never the event loop's.

A script blocks: it posts to ``context.rest_uri`` with ``requests``, waits on
gRPC, parses, sleeps. On the event loop that would stall every connection,
and a script posting to the loopback server the loop itself serves would wait
for an answer the loop can no longer give. So each call runs on one of a
fixed set of daemon threads (daemons: a SIGTERM must not wait for a script
stuck on the network), in a copy of the request's ``contextvars`` so its log
lines carry the request id. When every thread is busy, calls queue in order.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

from ..daemon_threads import hand_back, outcome

T = TypeVar("T")


class ScriptThreads:
    """``await threads.run(work)``: ``work()`` on a script thread; started on first use."""

    def __init__(self, size: int, name: str = "ovserve-script") -> None:
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._started = 0
        self._lock = threading.Lock()

    def _work(self) -> None:
        while True:
            work, loop, future = self._jobs.get()
            hand_back(loop, future, *outcome(work))
            del work, future

    def _ensure_started(self) -> None:
        if self._started == self.size:
            return
        with self._lock:
            while self._started < self.size:
                threading.Thread(target=self._work, name=f"{self.name}-{self._started}", daemon=True).start()
                self._started += 1

    async def run(self, work: Callable[[], T]) -> T:
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        context = contextvars.copy_context()
        self._jobs.put((lambda: context.run(work), loop, future))
        return await future
