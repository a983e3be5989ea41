"""SageMaker's ``/invocations`` semantics without a web framework, shared by the SageMaker and Lambda adapters.

The body is decoded by its content type and answered in the type ``Accept``
picks (default: the endpoint's, else JSON). Record formats (CSV, JSON Lines)
run in the model's batch size and answer one record per record. The model is
chosen by custom attributes, then by a name the body carries (x-protobuf),
then by the endpoint's default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import custom_attributes
from .codecs import media_types, registry
from .engine import Engine
from .errors import NotFound

log = logging.getLogger("ovserve.invocations")


@dataclass(frozen=True)
class Defaults:
    """What a request that names nothing gets."""

    accept: str = media_types.JSON
    model: str | None = None  # None: the first served model


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str


def _model_for(engine: Engine, defaults: Defaults, requested: str | None, from_body: str | None) -> str:
    served = list(engine.repository.models)
    if requested is not None:
        return requested
    if from_body is not None and (from_body in served or len(served) > 1):
        return from_body
    if defaults.model is not None:
        return defaults.model
    if not served:
        raise NotFound("no model is loaded on this endpoint")
    return served[0]


async def invoke(
    engine: Engine,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    attributes: str | None,
    defaults: Defaults,
    model: str | None = None,
) -> Answer:
    """Answer one invocation; ``model`` fixes the model (multi-model endpoints), else headers and body choose."""
    body_type = media_types.request_type(content_type)
    answer_type = media_types.response_type(accept, defaults.accept)
    target = custom_attributes.parse(attributes)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("invocation", extra={"content_type": body_type, "accept": answer_type, "bytes": len(body)})
    decoded = registry.decode(body_type, body)
    name = model if model is not None else _model_for(engine, defaults, target.model, decoded.model)
    version = target.version if target.version is not None else decoded.version
    prediction = await engine.predict(
        name, version, decoded.arrays, from_json=decoded.from_json, output_filter=decoded.output_filter, records=decoded.records
    )
    encoded = registry.encode(answer_type, prediction.outputs, decoded.form, prediction.model, prediction.version)
    return Answer(encoded, answer_type)
