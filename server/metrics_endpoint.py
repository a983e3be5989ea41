"""``GET /metrics`` on a Sanic app, and turning metrics and the access log on at start-up.

As in OpenVINO Model Server, metrics live on the REST port (SageMaker's
port in the container), and a server started without them answers
``/metrics`` with 400 ``Invalid request URL``; the message here adds how to
turn them on. The body is the Prometheus text format (``handler.metrics``),
read from the engine when scraped. Query strings are ignored, as OVMS
ignores them; a method other than GET is 405, as on every other path.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from ovserve.handler import access_log, metrics
from ovserve.handler.engine import Engine
from ovserve.handler.metrics.scrape import scrape
from ovserve.handler.metrics.text import CONTENT_TYPE
from ovserve.handler.request_context import GRPC, KSERVE, REST, TFS
from ovserve.handler.settings.server import ServerSettings

from .errors import error_response

# OVMS pre-creates these per model version at zero (the status methods per model): both APIs, both interfaces.
SERVER_OUTCOMES = tuple(
    (api, interface, method)
    for api, methods in ((TFS, ("Predict", "GetModelMetadata", "GetModelStatus")), (KSERVE, ("ModelInfer", "ModelMetadata", "ModelReady")))
    for interface in (REST, GRPC)
    for method in methods
)
SERVER_INTERFACES = (REST, GRPC)


def observe(settings: ServerSettings, outcomes: tuple[tuple[str, str, str], ...], interfaces: tuple[str, ...]) -> None:
    """At start-up, before any model loads: the access log's level, and metrics when they are enabled."""
    access_log.configure(settings.access_log)
    if settings.metrics.enabled:
        metrics.enable(settings.metrics.families, outcomes, interfaces)


def register_metrics_endpoint(app: Sanic, engine: Engine, how_to_enable: str) -> None:
    """``GET /metrics`` for ``engine``; ``how_to_enable`` finishes the 400's message while metrics are off."""

    @app.get("/metrics")
    async def metrics_page(request: Request) -> HTTPResponse:
        body = scrape(engine)
        if body is None:
            return error_response(400, f"Invalid request URL: metrics are not enabled; {how_to_enable}")
        return raw(body, content_type=CONTENT_TYPE)
