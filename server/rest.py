"""TF Serving REST endpoints (and health probes) on a Sanic app.

One catch-all route hands ``/v1/models/...`` to ``handler.tfs_rest``, which
parses the rest of the path itself: Sanic's router has no syntax for the
``:predict`` suffix, and the Lambda adapter answers the same paths. Sanic
passes the path still percent-encoded; it is decoded here, once, before it
is parsed, so ``/v1/models/m%3Apredict`` is a predict like ``m:predict``.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from ovserve.handler.engine import Engine
from ovserve.handler.protocols import tfs_rest, v2_rest
from ovserve.handler.protocols.url_path import decode_path

from .inflight import InFlight


def _json(body: bytes, status: int = 200) -> HTTPResponse:
    return raw(body, status=status, content_type="application/json")


def register_tfs_endpoints(app: Sanic, engine: Engine, tracker: InFlight) -> None:
    """``GET /v1/models/...`` status and metadata, ``POST …:predict``, and KServe v2's ``/v2/...`` (``v2_rest``)."""

    @app.route("/v1/models/<rest:path>", methods=["GET", "POST"])
    async def models(request: Request, rest: str) -> HTTPResponse:
        decoded = decode_path(rest)
        async with tracker:
            return _json(await tfs_rest.handle(engine, request.method, decoded, request.body, request.headers.get("content-type"),
                                               f"/v1/models/{decoded}"))

    @app.get("/v1/config")
    async def config(request: Request) -> HTTPResponse:
        return _json(tfs_rest.config(engine))

    async def v2(request: Request, rest: str = "") -> HTTPResponse:
        path = decode_path(request.path)
        call = v2_rest.handle(engine, request.method, path, request.body, request.headers.get("inference-header-content-length"),
                              request.headers.get("content-encoding"))
        if request.method == "GET":  # probes and metadata: not work a drain waits for
            answer = await call
        else:
            async with tracker:
                answer = await call
        return raw(answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers)

    app.add_route(v2, "/v2", methods=["GET", "POST"], name="v2_root", strict_slashes=False)
    app.add_route(v2, "/v2/<rest:path>", methods=["GET", "POST"], name="v2_paths")
