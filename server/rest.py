"""TF Serving REST endpoints (and health probes) on a Sanic app.

One catch-all route hands ``/v1/models/...`` to ``handler.tfs_rest``, which
parses the rest of the path itself: Sanic's router has no syntax for the
``:predict`` suffix, and the Lambda adapter answers the same paths.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty, raw

from ovserve.handler import tfs_rest
from ovserve.handler.codecs import tfs_json
from ovserve.handler.engine import Engine

from .errors import error_response
from .inflight import InFlight


def _json(body: bytes, status: int = 200) -> HTTPResponse:
    return raw(body, status=status, content_type="application/json")


def register_tfs_endpoints(app: Sanic, engine: Engine, tracker: InFlight) -> None:
    """``GET /v1/models/...`` status and metadata, ``POST …:predict``, ``/v2/health/*``."""

    @app.route("/v1/models/<rest:path>", methods=["GET", "POST"])
    async def models(request: Request, rest: str) -> HTTPResponse:
        async with tracker:
            return _json(await tfs_rest.handle(engine, request.method, rest, request.body, request.headers.get("content-type"),
                                               request.path))

    @app.get("/v1/config")
    async def config(request: Request) -> HTTPResponse:
        statuses = {
            name: {"model_version_status": tfs_json.status_rows(entry.statuses())}
            for name, entry in engine.repository.models.items()
        }
        return _json(tfs_json.dumps(statuses))

    @app.get("/v2/health/live")
    async def live(request: Request) -> HTTPResponse:
        return empty(status=200)

    @app.get("/v2/health/ready")
    async def ready(request: Request) -> HTTPResponse:
        if app.ctx.started and engine.is_ready():
            return empty(status=200)
        return error_response(503, "not ready: models are still being discovered or have no version to serve")
