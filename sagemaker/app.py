"""The SageMaker container's HTTP app: ``/ping``, ``/invocations``, ``/execution-parameters`` and, on
multi-model endpoints, ``/models``.

``/ping`` is 200 once every model has a compiled version to serve
(``Engine.not_ready_reason``; a multi-model endpoint is healthy as soon as it
listens: its models come later). Until then (versions being listed, fetched
or compiled), or after a model failed to load, it answers 503 with the
reason, which the log carries too.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty

from ovserve.handler.codecs.tfs_json import dumps
from ovserve.handler.engine import Engine
from ovserve.handler.errors import ErrorKind
from ovserve.server.errors import error_response, exception_handler
from ovserve.server.inflight import InFlight
from ovserve.server.sanic_app import build_app

from .invocations import invoke
from .multi_model import register_multi_model
from .settings import SageMakerSettings


def create_app(engine: Engine, settings: SageMakerSettings, tracker: InFlight) -> Sanic:
    """The app; nothing is bound or loaded yet."""
    # 507 for out of memory: SageMaker's multi-model router evicts a model on it (the TF Serving APIs say 503).
    errors = exception_handler("raise SAGEMAKER_MAX_PAYLOAD_IN_MB (at most 100) to allow larger bodies", sagemaker=True)
    # keep-alive: longer than the 60 s SageMaker's front end keeps connections idle
    app = build_app("ovserve_sagemaker", max_body_mb=settings.max_payload_mb, errors=errors, keep_alive_timeout=75)

    @app.get("/ping")
    async def ping(request: Request) -> HTTPResponse:
        if settings.multi_model:
            return empty(status=200)
        reason = engine.not_ready_reason()  # the one definition of readiness, shared with the server and Lambda
        return empty(status=200) if reason is None else error_response(ErrorKind.NOT_READY.http_status, f"not ready: {reason}")

    @app.post("/invocations")
    async def invocations(request: Request) -> HTTPResponse:
        async with tracker:
            return await invoke(request, engine, settings)

    @app.get("/execution-parameters")
    async def execution_parameters(request: Request) -> HTTPResponse:
        parameters = {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.max_payload_mb,
        }
        return HTTPResponse(dumps(parameters), content_type="application/json")

    if settings.multi_model:
        register_multi_model(app, engine, settings, tracker)
    return app
