"""The one Sanic app every HTTP front end starts from: limits, timeouts and error answers, no routes yet.

The TF Serving REST server and the SageMaker container must refuse, time
out and fail the same way (a JSON ``{"error": …}`` for every failure, Sanic's
own included; no banner or tracebacks in the log, which is JSON lines), so
they differ only in what the parameters say.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sanic import Request, Sanic
from sanic.response import HTTPResponse

_names = itertools.count(1)

RESPONSE_TIMEOUT_SECONDS = 3600
"""Inference time is the model's business, not the HTTP layer's (SageMaker enforces its own 60 s; batch jobs set theirs)."""

REQUEST_TIMEOUT_SECONDS = 60
"""How long a client may take to send its request."""


def build_app(
    prefix: str,
    *,
    max_body_mb: int,
    errors: Callable[[Request, Exception], HTTPResponse],
    keep_alive_timeout: float | None = None,
    request_class: type[Request] | None = None,
) -> Sanic:
    """A fresh app named ``prefix_N`` (Sanic keeps a registry of names; tests start many apps in one process).

    ``errors`` answers every exception (``server.errors.exception_handler``
    with the front end's body-limit hint and statuses); ``keep_alive_timeout``
    None keeps Sanic's default; ``request_class`` is the front end's request type
    (``request_hooks.traced_request``: request ids, metrics and access lines).
    """
    app = Sanic(f"{prefix}_{next(_names)}", configure_logging=False, request_class=request_class)
    app.config.REQUEST_MAX_SIZE = max_body_mb * 1024 * 1024
    app.config.RESPONSE_TIMEOUT = RESPONSE_TIMEOUT_SECONDS
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT_SECONDS
    if keep_alive_timeout is not None:
        app.config.KEEP_ALIVE_TIMEOUT = keep_alive_timeout
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.NOISY_EXCEPTIONS = False
    app.config.MOTD = False
    app.error_handler.add(Exception, errors)
    return app
