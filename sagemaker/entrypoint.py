"""The container image's entry point: ``serve`` starts SageMaker mode, anything else the standalone server.

SageMaker runs ``docker run IMAGE serve``; ``docker run IMAGE --model_name …``
gets the TF Serving compatible server with the same flags as ``ovserve``.
SIGTERM is handled from the first instruction, and SageMaker's port listens
before the heavy imports (see early_socket).
"""

from __future__ import annotations

import signal
import sys


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run() -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        from .early_socket import listen_early

        try:
            listener = listen_early()
        except OSError as exc:
            print(f"ovserve serve: cannot listen on SAGEMAKER_BIND_TO_PORT: {exc}", file=sys.stderr)
            sys.exit(1)
        from .main import main as serve_main

        sys.exit(serve_main(args[1:], listener))
    from ovserve.server.main import main as server_main

    sys.exit(server_main(args))


if __name__ == "__main__":
    run()
