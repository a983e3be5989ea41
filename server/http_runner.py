"""Starting and stopping a Sanic app inside an event loop we own.

Both HTTP front ends (the TF Serving REST server and the SageMaker app) bind
their socket before any model loads, so probes get answers at once, and stop
the same way: refuse new connections, let requests in flight finish (up to a
deadline), then close.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from sanic import Sanic

from .inflight import InFlight


async def start_http(app: Sanic, host: str, port: int, sock: socket.socket | None = None) -> Any:
    """Bind ``host:port`` (or serve ``sock``, already listening) and run ``app``'s start-up hooks; returns Sanic's AsyncioServer."""
    if sock is not None:
        server = await app.create_server(sock=sock, access_log=False, return_asyncio_server=True)
    else:
        server = await app.create_server(host=host, port=port, access_log=False, return_asyncio_server=True)
    await server.startup()  # create_server has already bound the socket
    await server.before_start()
    await server.after_start()
    return server


async def stop_http(server: Any, tracker: InFlight, timeout: float) -> None:
    """Stop accepting, wait up to ``timeout`` for requests in flight, then close every connection."""
    server.server.close()
    for connection in list(server.connections):
        connection.close_if_idle()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(tracker.idle(), timeout=timeout)
    for connection in list(server.connections):
        connection.close()
    await server.before_stop()
    await server.after_stop()


def bound_port(server: Any) -> int:
    """The port the server listens on (useful when it was asked for port 0)."""
    return server.server.sockets[0].getsockname()[1]
