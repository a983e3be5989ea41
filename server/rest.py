"""TF Serving REST endpoints (and health probes) on a Sanic app.

One catch-all route parses ``/v1/models/{m}[/versions/{v}][/metadata|:predict]``
itself: Sanic's router has no syntax for the ``:predict`` suffix, and doing it
here keeps every path error a clear 404/405 in the same JSON shape.
"""

from __future__ import annotations

import re

from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty, raw

from ovserve.handler import versions
from ovserve.handler.codecs import tfs_json
from ovserve.handler.engine import Engine
from ovserve.handler.errors import InvalidInput, NotFound, UnsupportedMediaType

from .errors import error_response
from .inflight import InFlight

_PATH = re.compile(r"^(?P<model>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?(?P<action>/metadata|:[A-Za-z]+)?$")
# curl -d sends form-encoded by default; TF Serving ignores the type, so these all mean JSON.
_JSON_TYPES = ("", "application/json", "application/x-www-form-urlencoded", "text/plain")


def _json(body: bytes, status: int = 200) -> HTTPResponse:
    return raw(body, status=status, content_type="application/json")


def register_tfs_endpoints(app: Sanic, engine: Engine, tracker: InFlight) -> None:
    """``GET /v1/models/...`` status and metadata, ``POST …:predict``, ``/v2/health/*``."""

    @app.route("/v1/models/<rest:path>", methods=["GET", "POST"])
    async def models(request: Request, rest: str) -> HTTPResponse:
        async with tracker:
            match = _PATH.match(rest)
            if match is None:
                raise NotFound(f"no such endpoint: /v1/models/{rest}")
            if match["label"] is not None:
                raise versions.label_not_supported(match["label"])
            model, version, action = match["model"], versions.from_text(match["version"]), match["action"]
            if action == ":predict":
                if request.method != "POST":
                    return error_response(405, f"{request.path} takes POST")
                return await _predict(request, engine, model, version)
            if action is not None and action != "/metadata":
                raise NotFound(f"{action!r} is not available; this server implements :predict")
            if request.method != "GET":
                return error_response(405, f"{request.path} takes GET")
            if action == "/metadata":
                served_version, signature = await engine.metadata(model, version)
                return _json(tfs_json.encode_metadata(model, served_version, signature))
            return _json(tfs_json.encode_status(engine.status(model, version)))

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


async def _predict(request: Request, engine: Engine, model: str, version: int | None) -> HTTPResponse:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not supported here; expected application/json"
        )
    parsed = tfs_json.parse_predict(request.body)
    prediction = await engine.predict(model, version, parsed.arrays, from_json=True)
    try:
        body = tfs_json.encode_predict(prediction.outputs, parsed.form)
    except TypeError as exc:
        raise InvalidInput(f"the model's output cannot be written as JSON: {exc}") from None
    return _json(body)
