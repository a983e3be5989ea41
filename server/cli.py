"""The ``ovserve`` console script: SIGTERM handling starts before the heavy imports.

Sanic and OpenVINO take a moment to import; a SIGTERM in that window would
otherwise kill the process with the default action instead of a clean exit.
The event loop installs the graceful handler as soon as it runs.
"""

from __future__ import annotations

import signal
import sys


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run() -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    from .main import main

    sys.exit(main())
