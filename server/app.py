"""Building the Sanic app: endpoints, error mapping and limits, nothing started yet."""

from __future__ import annotations

import itertools

from sanic import Sanic

from ovserve.handler.engine import Engine
from ovserve.handler.settings.server import ServerSettings

from .errors import handle_exception
from .inflight import InFlight
from .rest import register_tfs_endpoints

_names = itertools.count(1)


def create_app(engine: Engine, settings: ServerSettings, tracker: InFlight) -> Sanic:
    """A Sanic app serving the TF Serving REST API for ``engine``."""
    app = Sanic(f"ovserve_{next(_names)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.rest_max_body_mb * 1024 * 1024
    app.config.RESPONSE_TIMEOUT = 3600  # inference time is the model's business, not the HTTP layer's
    app.config.REQUEST_TIMEOUT = 60
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.NOISY_EXCEPTIONS = False
    app.config.MOTD = False
    app.error_handler.add(Exception, handle_exception)
    register_tfs_endpoints(app, engine, tracker)
    return app
