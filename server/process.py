"""What every long-running front end does around its servers: signals, start-up racing shutdown, exit codes.

The standalone server and SageMaker's ``serve`` both open their ports first,
then discover (and maybe compile) models while SIGTERM may arrive at any
moment, and both turn start-up failures into the same exit codes: 2 for a
bad setting, 1 when models or ports cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from ovserve.handler.errors import ConfigError, StorageError

log = logging.getLogger("ovserve.server")


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


def run(main: Coroutine[Any, Any, None], prog: str) -> int:
    """``asyncio.run`` (on uvloop when installed) with start-up failures as exit codes and one line on stderr."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(main)
    except ConfigError as exc:
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return 2
    except StorageError as exc:
        log.error("cannot start", extra={"reason": exc.message})
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        log.error("cannot start", extra={"reason": str(exc)})
        print(f"{prog}: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
