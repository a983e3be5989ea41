"""Building the Sanic app: endpoints, error mapping and limits, nothing started yet."""

from __future__ import annotations

from sanic import Sanic

from ovserve.handler.engine import Engine
from ovserve.handler.settings.server import ServerSettings

from .errors import exception_handler
from .inflight import InFlight
from .rest import register_tfs_endpoints
from .sanic_app import build_app


def create_app(engine: Engine, settings: ServerSettings, tracker: InFlight) -> Sanic:
    """A Sanic app serving the TF Serving REST API for ``engine``."""
    errors = exception_handler("raise --rest_max_body_mb to allow larger bodies")
    app = build_app("ovserve", max_body_mb=settings.rest_max_body_mb, errors=errors)
    register_tfs_endpoints(app, engine, tracker)
    return app
