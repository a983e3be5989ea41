"""The SageMaker container's HTTP app: ``/ping``, ``/invocations``, ``/execution-parameters`` and, on
multi-model endpoints, ``/models``.

``/ping`` is 200 once every model has a compiled version to serve
(``Engine.not_ready_reason``; a multi-model endpoint is healthy as soon as it
listens: its models come later). Until then (versions being listed, fetched
or compiled), or after a model failed to load, it answers 503 with the
reason, which the log carries too.

Every request's id is the caller's ``x-request-id``, else SageMaker's
``X-Amzn-SageMaker-Inference-Id``, else ``X-Amzn-RequestId``, else a new one;
it is echoed as ``x-request-id`` and carried on the request's log lines.
``GET /metrics`` reports with ``OVSERVE_METRICS_ENABLE=true``: SageMaker does
not scrape it, but the same image run standalone can be.
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, empty

from ovserve.handler.codecs.tfs_json import dumps
from ovserve.handler.engine import Engine
from ovserve.handler.errors import ErrorKind
from ovserve.handler.protocols.request_labels import sagemaker_labels
from ovserve.handler.request_context import HEADER, REST, SAGEMAKER
from ovserve.server.errors import error_response, exception_handler
from ovserve.server.inflight import InFlight
from ovserve.server.metrics_endpoint import register_metrics_endpoint
from ovserve.server.request_hooks import traced_request
from ovserve.server.sanic_app import build_app

from .invocations import invoke
from .multi_model import register_multi_model
from .scripts import EndpointScripts
from .settings import SageMakerSettings

# Where a request's id comes from, first usable wins: a caller's own, then the ids SageMaker's runtime API carries.
ID_HEADERS = (HEADER, "x-amzn-sagemaker-inference-id", "x-amzn-requestid")
# What /metrics pre-creates per model version at zero.
OUTCOMES = ((SAGEMAKER, REST, "Invocations"),)
INTERFACES = (REST,)


def create_app(engine: Engine, settings: SageMakerSettings, tracker: InFlight, scripts: EndpointScripts | None = None) -> Sanic:
    """The app; nothing is bound or loaded yet. ``scripts``: the endpoint's ``code/inference.py``, if it has one."""
    # 507 for out of memory: SageMaker's multi-model router evicts a model on it (the TF Serving APIs say 503).
    errors = exception_handler("raise SAGEMAKER_MAX_PAYLOAD_IN_MB (at most 100) to allow larger bodies", sagemaker=True)
    # keep-alive: longer than the 60 s SageMaker's front end keeps connections idle
    app = build_app("ovserve_sagemaker", max_body_mb=settings.max_payload_mb, errors=errors, keep_alive_timeout=75,
                    request_class=traced_request(sagemaker_labels, ID_HEADERS))
    register_metrics_endpoint(app, engine, "start the container with OVSERVE_METRICS_ENABLE=true")

    @app.get("/ping")
    async def ping(request: Request) -> HTTPResponse:
        script_reason = scripts.not_ready_reason() if scripts is not None else None  # installing, importing, model_fn
        if settings.multi_model and script_reason is None:
            return empty(status=200)
        reason = script_reason if settings.multi_model else engine.not_ready_reason() or script_reason  # the engine's: shared
        return empty(status=200) if reason is None else error_response(ErrorKind.NOT_READY.http_status, f"not ready: {reason}")

    @app.post("/invocations")
    async def invocations(request: Request) -> HTTPResponse:
        async with tracker:
            return await invoke(request, engine, settings, scripts=scripts)

    @app.get("/execution-parameters")
    async def execution_parameters(request: Request) -> HTTPResponse:
        parameters = {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.max_payload_mb,
        }
        return HTTPResponse(dumps(parameters), content_type="application/json")

    if settings.multi_model:
        register_multi_model(app, engine, settings, tracker, scripts)
    return app
