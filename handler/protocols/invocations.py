"""SageMaker's ``/invocations`` semantics without a web framework, shared by the SageMaker and Lambda adapters.

The body is decoded by its content type and answered in the type ``Accept``
picks (default: the endpoint's, else JSON). A KServe v2 body (JSON, or
SageMaker's Triton binary type) with no ``Accept`` of its own is answered as
v2, as AWS's Triton container answers it. Record formats (CSV, JSON Lines)
run in the model's batch size and answer one record per record. The model is
chosen by custom attributes, then by a name the body carries (x-protobuf's
``model_spec.name``, v2's ``model_name``), then by the endpoint's default; a
body naming a model the endpoint does not serve is a 400. The version likewise:
``tfs-model-version``, else the body's (x-protobuf's ``model_spec.version``,
v2's ``model_version``), else the model's default; a v2 body and the custom
attribute naming different versions is a 400, since either answer would
ignore half of what the caller asked for. Large bodies are decoded, and large answers encoded, on a
worker thread (``offload``); an answer over ``engine.max_response_bytes`` is
refused before it is encoded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import offload
from ..codecs import answer_size, media_types, registry, sagemaker_v2
from ..engine import Engine
from ..errors import InvalidInput, NotFound
from . import custom_attributes

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


def _model_for(engine: Engine, defaults: Defaults, requested: str | None, from_body: str | None, fixed: str | None,
               field: str = "model_spec.name") -> str:
    """The model to run: fixed by the path, else custom attributes, else the body's name, else the default.

    A name in the body (an x-protobuf ``model_spec.name``, a v2 ``model_name``: ``field``) must be a model this
    endpoint serves (the fixed one, on a multi-model ``/models/{name}/invoke``);
    anything else is a 400 naming what was expected, never an answer from
    another model. An empty name means the endpoint's default.
    """
    if fixed is not None:
        if from_body is not None and from_body != fixed:
            raise _wrong_body_model(from_body, [fixed], field)
        return fixed
    if requested is not None:
        return requested  # the custom attribute wins over the body, as in AWS's TF Serving container
    served = engine.model_names()
    if from_body is not None:
        if from_body not in served:
            raise _wrong_body_model(from_body, served, field)
        return from_body
    if defaults.model is not None:
        return defaults.model
    if not served:
        raise NotFound("no model is loaded on this endpoint")
    return served[0]


def _version_for(attribute: int | None, decoded: registry.Decoded) -> int | None:
    """The version to serve: the custom attribute's, else the body's, else None (the model's default).

    A v2 body's ``model_version`` that contradicts ``tfs-model-version`` is a
    400 naming both; x-protobuf keeps AWS's TF Serving rule (the attribute wins).
    """
    if decoded.v2 is None:
        return attribute if attribute is not None else decoded.version
    from_body = sagemaker_v2.requested_version(decoded.v2)
    if attribute is not None and from_body is not None and attribute != from_body:
        raise InvalidInput(
            f'the infer request asks for "model_version" {from_body}, but the custom attribute tfs-model-version '
            f"asks for {attribute}; expected one of them, or the same version in both"
        )
    return attribute if attribute is not None else from_body


def _wrong_body_model(named: str, served: list[str], field: str) -> InvalidInput:
    what = "the PredictRequest" if field == "model_spec.name" else "the infer request"
    return InvalidInput(
        f"{what} names model {named[:100]!r}, which this endpoint does not serve; expected "
        f"{field} to be one of {served[:20]} or empty (the endpoint's default), or pick the model with the "
        "custom attribute tfs-model-name"
    )


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
    decoded = await offload.sized(len(body), lambda: registry.decode(body_type, body, content_type=content_type))
    v2 = decoded.v2
    if v2 is not None:  # no Accept (or */*): a v2 answer, binary-framed when the request asks for binary outputs
        chosen = media_types.response_type(accept, "")
        answer_type = chosen or media_types.V2_BINARY
        if chosen == media_types.V2_BINARY:  # asked for by name: outputs without a binary_data flag of their own go binary
            v2 = sagemaker_v2.binary_by_default(v2)
    name = _model_for(engine, defaults, target.model, decoded.model, model, decoded.model_field)
    version = _version_for(target.version, decoded)
    prediction = await engine.predict(decoded.request(name, version))
    outputs = prediction.outputs
    encoded, encoded_type = await offload.sized(answer_size.estimate(answer_type, outputs), lambda: registry.encode_typed(
        answer_type, outputs, decoded.form, prediction.model, prediction.version, engine.max_response_bytes, v2
    ))  # encode refuses an answer over the limit before writing any of it
    return Answer(encoded, encoded_type)
