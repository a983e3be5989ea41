"""Direct invocations (``aws lambda invoke``, Step Functions, SDK calls): a TF Serving JSON body in, its answer out.

The event is a TF Serving predict body (``{"instances": …}`` or
``{"inputs": …}``), optionally with ``"model_name"`` and ``"model_version"``
beside it; the return value is the TF Serving JSON answer as an object.
Errors raise, so the caller sees Lambda's ``errorType``/``errorMessage``:
InvalidInput names the field at fault, and an answer larger than Lambda can
return raises PayloadTooLarge instead of crashing the runtime.
"""

from __future__ import annotations

from typing import Any

import orjson

from ovserve.handler import versions
from ovserve.handler.errors import InvalidInput, PayloadTooLarge
from ovserve.handler.protocols import tfs_rest

from . import response_size
from .runtime import Runtime

_EXPECTED = 'expected a TF Serving predict body: {"instances": [...]} or {"inputs": ...}, with optional "model_name"/"model_version"'


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f'"model_version" must be a positive integer; got {type(value).__name__}')
    return versions.from_text(str(value))


def _model(runtime: Runtime, value: Any) -> str:
    """The model named by ``"model_name"``; only a missing or null name means the default model."""
    if value is None:
        return runtime.default_model()
    if not isinstance(value, str) or not value:
        shown = "an empty string" if value == "" else f"a JSON {type(value).__name__}"
        raise InvalidInput(f'"model_name" is {shown}; expected the name of a served model, or no "model_name" '
                           f"for the default ({runtime.default_model()})")
    return value


def _serialized(body: dict) -> bytes:
    """The body as JSON text again; InvalidInput names the field JSON numbers and nesting cannot carry."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        for field, value in body.items():
            try:
                orjson.dumps(value)
            except orjson.JSONEncodeError as exc:
                reason = ("holds an integer outside the 64-bit range" if "64-bit" in str(exc)
                          else "is nested more than 254 levels deep" if "ecursion" in str(exc)
                          else f"cannot be read ({exc})")
                raise InvalidInput(f'"{field}" {reason}; expected tensor values: numbers within 64 bits, strings or '
                                   "booleans, nested as deep as the tensor has dimensions") from None
        raise


async def invoke(runtime: Runtime, event: Any) -> Any:
    """Predict with the body the event carries; returns the parsed JSON answer."""
    if not isinstance(event, dict):
        raise InvalidInput(f"the event is a JSON {type(event).__name__}; {_EXPECTED}")
    body = dict(event)
    model = _model(runtime, body.pop("model_name", None))
    version = _version(body.pop("model_version", None))
    if "instances" not in body and "inputs" not in body:
        raise InvalidInput(f"the event has neither \"instances\" nor \"inputs\"; {_EXPECTED}")
    answer = await tfs_rest.predict(runtime.engine, model, version, _serialized(body), "application/json")
    parsed = orjson.loads(answer)
    limit = runtime.settings.max_response_bytes
    size = response_size.direct_answer_size(parsed, len(answer), limit)
    if size is not None:
        raise PayloadTooLarge(f"the answer is {size} bytes as Lambda's response document and Lambda returns at most "
                              f"{limit}; send fewer instances per invocation")
    return parsed
