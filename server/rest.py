"""TF Serving REST endpoints (and health probes) on a Sanic app.

One catch-all route hands ``/v1/models/...`` to ``handler.tfs_rest``, which
parses the rest of the path itself: Sanic's router has no syntax for the
``:predict`` suffix, and the Lambda adapter answers the same paths. Sanic
passes the path still percent-encoded; it is decoded here, once, before it
is parsed, so ``/v1/models/m%3Apredict`` is a predict like ``m:predict``.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty, raw

from ovserve.handler.engine import Engine
from ovserve.handler.protocols import tfs_rest
from ovserve.handler.protocols.url_path import decode_path

from .errors import error_response
from .inflight import InFlight


def _json(body: bytes, status: int = 200) -> HTTPResponse:
    return raw(body, status=status, content_type="application/json")


def register_tfs_endpoints(app: Sanic, engine: Engine, tracker: InFlight) -> None:
    """``GET /v1/models/...`` status and metadata, ``POST …:predict``, ``/v2/health/*``."""

    @app.route("/v1/models/<rest:path>", methods=["GET", "POST"])
    async def models(request: Request, rest: str) -> HTTPResponse:
        decoded = decode_path(rest)
        async with tracker:
            return _json(await tfs_rest.handle(engine, request.method, decoded, request.body, request.headers.get("content-type"),
                                               f"/v1/models/{decoded}"))

    @app.get("/v1/config")
    async def config(request: Request) -> HTTPResponse:
        return _json(tfs_rest.config(engine))

    @app.get("/v2/health/live")
    async def live(request: Request) -> HTTPResponse:
        return empty(status=200)

    @app.get("/v2/health/ready")
    async def ready(request: Request) -> HTTPResponse:
        reason = engine.not_ready_reason()  # the one definition of readiness, shared with SageMaker and Lambda
        return empty(status=200) if reason is None else error_response(503, f"not ready: {reason}")
