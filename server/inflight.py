"""Counting requests in progress, so shutdown can wait for exactly those."""

from __future__ import annotations

import asyncio


class InFlight:
    """``async with tracker:`` around each request; ``await tracker.idle()`` waits for none."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __aenter__(self) -> None:
        self.count += 1
        self._idle.clear()

    async def __aexit__(self, *exc_info: object) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()
