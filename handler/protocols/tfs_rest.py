"""TF Serving's REST API without a web framework: ``/v1/models/...`` in, JSON bytes out.

The Sanic server and the Lambda adapter both answer these paths; the path
grammar, the content types taken as JSON and every error live here once.
``rest`` is the path after ``/v1/models/``: ``{m}[/versions/{v}|/labels/{l}][/metadata|:predict]``.
Large bodies are parsed, and large answers written (a slice at a time, so the
GIL is never held for long: ``chunked_json``), on a worker thread (``offload``);
an answer larger than ``engine.max_response_bytes`` is refused before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .. import offload, versions
from ..codecs import answer_size, chunked_json, tfs_json
from ..engine import Engine, InferRequest
from ..errors import InvalidInput, MethodNotAllowed, NotFound, UnsupportedMediaType

_PATH = re.compile(r"^(?P<model>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?(?P<action>/metadata|:[A-Za-z]+)?$")
# curl -d sends form-encoded by default; TF Serving ignores the type, so these all mean JSON.
JSON_TYPES = ("", "application/json", "application/x-www-form-urlencoded", "text/plain")


async def handle(engine: Engine, method: str, rest: str, body: bytes, content_type: str | None, path: str) -> bytes:
    """Status (GET), metadata (GET …/metadata) or predict (POST …:predict); ``path`` is quoted in errors."""
    match = _PATH.match(rest)
    if match is None:
        raise NotFound(f"no such endpoint: /v1/models/{rest}")
    if match["label"] is not None:
        raise versions.label_not_supported(match["label"])
    model, version, action = match["model"], versions.from_text(match["version"]), match["action"]
    if action == ":predict":
        if method != "POST":
            raise MethodNotAllowed(f"{path} takes POST")
        return await predict(engine, model, version, body, content_type)
    if action is not None and action != "/metadata":
        raise NotFound(f"{action!r} is not available; this server implements :predict")
    if method != "GET":
        raise MethodNotAllowed(f"{path} takes GET")
    if action == "/metadata":
        served_version, signature = await engine.metadata(model, version)
        return tfs_json.encode_metadata(model, served_version, signature)
    return tfs_json.encode_status(engine.status(model, version))


def config(engine: Engine) -> bytes:
    """``GET /v1/config``: every model's version states, as the Sanic server and the Lambda adapter both answer it."""
    statuses = engine.statuses_by_model()
    return tfs_json.dumps({name: {"model_version_status": tfs_json.status_rows(rows)} for name, rows in statuses.items()})


async def predict(engine: Engine, model: str, version: int | None, body: bytes, content_type: str | None) -> bytes:
    """One TF Serving JSON predict, answered in the request's form (row or column)."""
    bare = (content_type or "").split(";")[0].strip().lower()
    if bare not in JSON_TYPES:
        raise UnsupportedMediaType(f"Content-Type {bare!r} is not supported here; expected application/json")
    if len(body) < offload.OFFLOAD_AT_BYTES:  # small bodies: a thread hop would cost more than the parse
        parsed = tfs_json.parse_predict(body)
    else:
        parsed = await offload.on_worker(lambda: tfs_json.parse_predict(body))
    prediction = await engine.predict(InferRequest(model, version, parsed.arrays, work_bytes=len(body)))
    size = answer_size.text_bytes(prediction.outputs)
    answer_size.check(size, engine.max_response_bytes)  # before encoding: a runaway output is refused by name
    if size < offload.OFFLOAD_AT_BYTES:
        return _encode(tfs_json.encode_predict, prediction.outputs, parsed.form)
    return await offload.on_worker(lambda: _encode(chunked_json.encode_predict, prediction.outputs, parsed.form))


def _encode(encoder: Callable[[dict[str, np.ndarray], str], bytes], outputs: dict[str, np.ndarray], form: str) -> bytes:
    try:
        return encoder(outputs, form)
    except TypeError as exc:
        raise InvalidInput(f"the model's output cannot be written as JSON: {exc}") from None
