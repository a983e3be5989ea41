"""Direct invocations (``aws lambda invoke``, Step Functions, SDK calls): a TF Serving JSON body in, its answer out.

The event is a TF Serving predict body (``{"instances": …}`` or
``{"inputs": …}``), optionally with ``"model_name"`` and ``"model_version"``
beside it; the return value is the TF Serving JSON answer as an object.
Errors raise, so the caller sees Lambda's ``errorType``/``errorMessage``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ovserve.handler import tfs_rest, versions
from ovserve.handler.errors import InvalidInput

from .runtime import Runtime

_EXPECTED = 'expected a TF Serving predict body: {"instances": [...]} or {"inputs": ...}, with optional "model_name"/"model_version"'


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f'"model_version" must be a positive integer; got {type(value).__name__}')
    return versions.from_text(str(value))


async def invoke(runtime: Runtime, event: Any) -> Any:
    """Predict with the body the event carries; returns the parsed JSON answer."""
    if not isinstance(event, dict):
        raise InvalidInput(f"the event is a JSON {type(event).__name__}; {_EXPECTED}")
    body = dict(event)
    model = body.pop("model_name", None) or runtime.default_model()
    if not isinstance(model, str):
        raise InvalidInput(f'"model_name" must be a string; {_EXPECTED}')
    version = _version(body.pop("model_version", None))
    if "instances" not in body and "inputs" not in body:
        raise InvalidInput(f"the event has neither \"instances\" nor \"inputs\"; {_EXPECTED}")
    answer = await tfs_rest.predict(runtime.engine, model, version, orjson.dumps(body), "application/json")
    return orjson.loads(answer)
