"""TF Serving's REST API on 127.0.0.1 inside a Lambda environment, for ``context.rest_uri``.

A ``handler(data, context)`` script posts to ``context.rest_uri`` with
``requests``. The Lambda image carries no web framework (cold start), and
only scripts need this, so it is a small HTTP/1.1 server on asyncio streams:
keep-alive, ``Content-Length`` or chunked bodies, the ``/v1/models/...`` paths
answered by the same framework-free handler the standalone server and the
Lambda HTTP routes use (``handler.protocols.tfs_rest``), errors as
``{"error": …}`` with their TF Serving statuses. It listens on loopback only,
so nothing outside the execution environment reaches it.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from ovserve.handler.engine import Engine
from ovserve.handler.errors import NotFound, http_status
from ovserve.handler.failures import error_body, failure_of, log_failure
from ovserve.handler.protocols import tfs_rest
from ovserve.handler.protocols.url_path import decode_path

log = logging.getLogger("ovserve.lambda")
HEAD_LIMIT = 64 * 1024


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], limit: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts, total = [], 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # the end of the (empty) trailer section
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BadRequest(413, f"request body over {limit} bytes")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    text = headers.get("content-length", "0").strip() or "0"
    if not text.isdigit():
        raise _BadRequest(400, f"Content-Length {text[:40]!r} is not a byte count")
    if int(text) > limit:
        raise _BadRequest(413, f"request body of {text} bytes is over {limit}")
    return await reader.readexactly(int(text))


async def _answer(engine: Engine, method: str, target: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
    path = decode_path(target.split("?", 1)[0])
    try:
        if path.startswith("/v1/models/"):
            return 200, await tfs_rest.handle(engine, method, path[len("/v1/models/"):], body, content_type, path)
        if path == "/v1/config" and method == "GET":
            return 200, tfs_rest.config(engine)
        raise NotFound(f"no such endpoint: {method} {path}; this loopback server answers /v1/models/...")
    except Exception as exc:  # noqa: BLE001 (every failure is an answer, as on the standalone server)
        failure = failure_of(exc, out_of_memory="out of memory while answering this request",
                             internal="internal server error; see the function's log")
        status = http_status(failure.error)
        log_failure(log, failure, status, path=path)
        return status, error_body(failure.error.message)


def _response(status: int, body: bytes, close: bool) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    head = f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode("latin-1") + body


async def _connection(engine: Engine, limit: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                writer.write(_response(431, error_body(f"request head over {HEAD_LIMIT} bytes"), close=True))
                break
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                writer.write(_response(400, error_body("malformed request line"), close=True))
                break
            method, target, version = parts
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            try:
                body = await _read_body(reader, headers, limit)
            except (_BadRequest, ValueError) as exc:
                status = exc.status if isinstance(exc, _BadRequest) else 400
                writer.write(_response(status, error_body(str(exc)), close=True))
                break
            status, answer = await _answer(engine, method, target, body, headers.get("content-type"))
            close = version != "HTTP/1.1" or headers.get("connection", "").lower() == "close"
            writer.write(_response(status, answer, close))
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away
    finally:
        writer.close()


async def start(engine: Engine, port: int, max_body_bytes: int) -> asyncio.Server:
    """Listen on 127.0.0.1:``port`` (0: any free port); the server lives as long as the environment's loop."""
    try:
        return await asyncio.start_server(lambda r, w: _connection(engine, max_body_bytes, r, w), "127.0.0.1", port,
                                          limit=HEAD_LIMIT)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port} for scripts' TF Serving REST API ({exc.strerror}); "
                      "set OVSERVE_SCRIPT_REST_PORT to a free port, or 0 for any") from None

