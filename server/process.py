"""The process around a front end's serving life (``lifecycle``): the event loop and the exit codes.

The standalone server and SageMaker's ``serve`` turn start-up failures into
the same exit codes, so scripts and orchestrators can tell them apart: 2 for
a bad setting, 1 when models or ports cannot be reached, 0 after a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from ovserve.handler.errors import ConfigError, StorageError

log = logging.getLogger("ovserve.server")


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
