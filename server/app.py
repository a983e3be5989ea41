"""Building the Sanic app: endpoints, error mapping and limits, nothing started yet."""

from __future__ import annotations

from sanic import Sanic

from ovserve.handler.engine import Engine
from ovserve.handler.protocols.request_labels import rest_labels
from ovserve.handler.settings.server import ServerSettings

from .errors import exception_handler
from .inflight import InFlight
from .metrics_endpoint import register_metrics_endpoint
from .request_hooks import traced_request
from .rest import register_tfs_endpoints
from .sanic_app import build_app


def create_app(engine: Engine, settings: ServerSettings, tracker: InFlight) -> Sanic:
    """A Sanic app serving the TF Serving REST API and KServe v2's for ``engine``, and ``GET /metrics``."""
    errors = exception_handler("raise --rest_max_body_mb to allow larger bodies")
    app = build_app("ovserve", max_body_mb=settings.rest_max_body_mb, errors=errors, request_class=traced_request(rest_labels))
    register_tfs_endpoints(app, engine, tracker)
    register_metrics_endpoint(app, engine, "start the server with --metrics_enable (or config.json's monitoring.metrics.enable)")
    return app
