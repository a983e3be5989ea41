"""``POST /invocations`` (and a multi-model endpoint's ``/models/{name}/invoke``).

Parse the transport, one codec call, the engine, one codec call: the body is
decoded by its ``Content-Type``, answered in the type ``Accept`` picks
(default ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else JSON). Record formats
(CSV, JSON Lines) run in the model's batch size and answer one record per
record, which is what batch transform's multi-record strategy needs.
"""

from __future__ import annotations

import logging

from sanic import Request
from sanic.response import HTTPResponse, raw

from ovserve.handler.codecs import media_types, registry
from ovserve.handler.engine import Engine
from ovserve.handler.errors import NotFound

from . import custom_attributes
from .settings import SageMakerSettings

log = logging.getLogger("ovserve.sagemaker")


def _model_for(engine: Engine, settings: SageMakerSettings, requested: str | None, from_body: str | None) -> str:
    """Custom attributes first, then a name the body carries (x-protobuf), then the endpoint's default model."""
    served = list(engine.repository.models)
    if requested is not None:
        return requested
    if from_body is not None and (from_body in served or len(served) > 1):
        return from_body
    if settings.default_model is not None:
        return settings.default_model
    if not served:
        raise NotFound("no model is loaded on this endpoint")
    return served[0]


async def invoke(request: Request, engine: Engine, settings: SageMakerSettings, model: str | None = None) -> HTTPResponse:
    """Answer one invocation; ``model`` fixes the model (multi-model endpoints), else headers and body choose."""
    body_type = media_types.request_type(request.headers.get("content-type"))
    answer_type = media_types.response_type(request.headers.get("accept"), settings.default_accept)
    target = custom_attributes.parse(request.headers.get(custom_attributes.HEADER))
    log.debug("invocation", extra={"content_type": body_type, "accept": answer_type, "bytes": len(request.body)})
    decoded = registry.decode(body_type, request.body)
    name = model if model is not None else _model_for(engine, settings, target.model, decoded.model)
    version = target.version if target.version is not None else decoded.version
    prediction = await engine.predict(
        name, version, decoded.arrays, from_json=decoded.from_json, output_filter=decoded.output_filter, records=decoded.records
    )
    body = registry.encode(answer_type, prediction.outputs, decoded.form, prediction.model, prediction.version)
    return raw(body, status=200, content_type=answer_type)
