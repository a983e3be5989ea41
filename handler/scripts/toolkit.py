"""The SageMaker inference toolkit's hooks, with ovserve's model as every default.

As in the toolkit: ``Accept`` missing or ``*/*`` becomes the endpoint's
default (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``); JSON and CSV bodies reach
``input_fn`` as ``str``, others as ``bytes``; ``transform_fn(model, data,
content_type, accept)`` replaces the other three; an ``output_fn`` may return
a body or ``(body, content_type)``; a trailing ``context`` parameter gets the
context. Unlike the toolkit, that context is each request's own.

The defaults run ovserve's own ``/invocations`` semantics, so a script may
override only what it needs: ``input_fn`` decodes the body by its content type
(``DecodedBody``), ``predict_fn`` runs it on the ``model`` (an ``OvserveModel``
unless ``model_fn`` returned something else: then a callable model is called,
anything else needs a ``predict_fn``), ``output_fn`` writes an ``Outputs`` (or
any dict of arrays, or one array) in the type ``accept`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..codecs import media_types, registry, sagemaker_v2
from ..errors import InvalidInput
from . import answers
from .answers import ScriptAnswer, ScriptFailed
from .calls import call
from .context import Context
from .loading import Script
from .model_handle import DecodedBody, Outputs, OvserveModel, Serving

UTF8_TYPES = ("application/json", "text/csv")  # the toolkit's: these bodies arrive as text
ANY = "*/*"


def load_model(script: Script, serving: Serving, name: str, model_dir: str | None, context: Context) -> Any:
    """``model_fn(model_dir[, context])``, or ovserve's model when the script has none."""
    hook = script.hook("model_fn")
    if hook is None:
        return OvserveModel(serving, name, model_dir)
    return call(script.label, hook, context, model_dir)


def _text_if_utf8(body: bytes, content_type: str) -> bytes | str:
    if content_type.split(";", 1)[0].strip().lower() not in UTF8_TYPES:
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the {content_type} body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def default_input_fn(data: bytes | str, content_type: str) -> DecodedBody:
    body = data.encode("utf-8") if isinstance(data, str) else data
    decoded = registry.decode(media_types.request_type(content_type), body, content_type=content_type)
    return DecodedBody(decoded, content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    if isinstance(model, OvserveModel):
        return model.predict(data)
    if callable(model):
        return model(data)
    raise ScriptFailed(
        f"predict_fn is not defined and model_fn returned a {type(model).__name__}, which ovserve cannot run; "
        "define predict_fn(data, model), or leave model_fn out to predict with the endpoint's model"
    )


def default_output_fn(prediction: Any, accept: str, serving: Serving, model: str) -> tuple[bytes, str]:
    """Arrays in the type ``accept`` names (as ``/invocations`` answers); other values as JSON, text and bytes as they are."""
    if isinstance(prediction, np.ndarray):
        prediction = Outputs({"output": prediction}, registry.AUTO, model, 1)
    if isinstance(prediction, Mapping) and prediction and all(isinstance(v, np.ndarray) for v in prediction.values()):
        found = prediction if isinstance(prediction, Outputs) else Outputs(prediction, registry.AUTO, model, 1)
        answer_type = media_types.response_type(accept, serving.default_accept)
        v2 = found.v2
        if v2 is not None and answer_type == media_types.V2_BINARY:
            v2 = sagemaker_v2.binary_by_default(v2)
        return registry.encode_typed(answer_type, dict(found), found.form, found.model, found.version,
                                     serving.engine.max_response_bytes, v2)
    if isinstance(prediction, (bytes, bytearray, str)):
        return answers.body_bytes(prediction, "ovserve", "output_fn"), accept
    return answers.body_bytes(prediction, "ovserve", "output_fn"), media_types.JSON


def transform(script: Script, serving: Serving, model: Any, body: bytes, context: Context) -> ScriptAnswer:
    """One request through the hooks; ``model`` is what ``load_model`` returned (None: the request's ovserve model)."""
    if model is None:
        model = OvserveModel(serving, context.model_name or "", context.system_properties.get("model_dir"))
    content_type = context.request_content_type
    accept = context.get_request_header(0, "accept")  # the header itself: context.accept_header defaults as AWS's does
    if not accept or accept.strip() == ANY:
        accept = serving.default_accept
    data = _text_if_utf8(body, content_type)
    label = script.label
    transform_fn = script.hook("transform_fn")
    if transform_fn is not None:
        returned = call(label, transform_fn, context, model, data, content_type, accept)
        return _answer(returned, label, "transform_fn", context, accept)
    input_fn, predict_fn, output_fn = script.hook("input_fn"), script.hook("predict_fn"), script.hook("output_fn")
    decoded = call(label, input_fn, context, data, content_type) if input_fn else default_input_fn(data, content_type)
    prediction = call(label, predict_fn, context, decoded, model) if predict_fn else default_predict_fn(decoded, model)
    if output_fn is None:
        encoded, encoded_type = default_output_fn(prediction, accept, serving, getattr(model, "name", context.model_name or ""))
        return ScriptAnswer(encoded, encoded_type)
    returned = call(label, output_fn, context, prediction, accept)
    return _answer(returned, label, "output_fn", context, accept)


def _answer(returned: Any, label: str, function: str, context: Context, accept: str) -> ScriptAnswer:
    return answers.from_return(returned, label, function, context.chosen_content_type or accept, pair=False)
