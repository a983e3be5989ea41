"""Opening SageMaker's port before anything heavy is imported.

SageMaker expects the container to accept connections within 250 ms of
starting; importing OpenVINO and Sanic takes longer than that. Binding and
listening first lets the kernel complete TCP handshakes (they wait in the
backlog) while the rest of the process starts; the HTTP server then serves
this same socket.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

BACKLOG = 1024


def listen_early(environ: Mapping[str, str] = os.environ) -> socket.socket | None:
    """A listening socket on ``SAGEMAKER_BIND_TO_PORT`` (8080), or None when the value is not a port.

    None leaves the port to the settings loader, which reports a bad value; a
    port already in use raises OSError, which start-up reports the same way.
    """
    text = (environ.get("SAGEMAKER_BIND_TO_PORT") or "8080").strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        return None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("0.0.0.0", int(text)))
        listener.listen(BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener
