"""KServe v2 (Open Inference Protocol) REST without a web framework: ``/v2/...`` in, an ``Answer`` out.

The Sanic server and the Lambda adapter both answer these paths. ``path`` is
the decoded URL path (``/v2``, ``/v2/health/live``,
``/v2/models/{m}[/versions/{v}][/ready|/config|/infer]``, and the model
repository extension's POST ``/v2/repository/index`` and
``/v2/repository/models/{m}/load|unload``, see ``v2_repository``). The
framing of an infer body comes from the ``Inference-Header-Content-Length``
header alone, never from Content-Type (the sync tritonclient sends none, the
aio one sends octet-stream), so no content type is refused here. Failures are raised as the
core's errors and become ``{"error": ...}`` at the transport, like TF Serving's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

from .. import offload, versions
from ..codecs import answer_size, v2_binary, v2_json, v2_metadata
from ..engine import Engine, InferRequest
from ..errors import InvalidInput, MethodNotAllowed, NotFound, NotReady
from ..status import AVAILABLE
from . import v2_repository

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
_REPOSITORY = re.compile(r"^/v2/repository(?:/(?P<repository>[^/]+))?"
                         r"(?:/(?P<index>index)|/models/(?P<model>[^/]+)/(?P<action>load|unload))$")
_MODEL = re.compile(r"^/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/[a-z_]+)?$")


@dataclass(frozen=True)
class Answer:
    """One answer: ``headers`` are extra ones (``Inference-Header-Content-Length`` for binary answers)."""

    body: bytes
    content_type: str = JSON
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _json(document: object, status: int = 200) -> Answer:
    return Answer(orjson.dumps(document), JSON, status)


def handles(path: str) -> bool:
    """Whether ``path`` (decoded, without query) belongs to the v2 API."""
    return path == "/v2" or path.startswith("/v2/")


async def handle(engine: Engine, method: str, path: str, body: bytes, header_length: str | None = None,
                 content_encoding: str | None = None, repository: bool = True) -> Answer:
    """Route one v2 request; ``header_length`` is the Inference-Header-Content-Length header's value, if sent.

    ``repository`` False (Lambda: a function serves the models it was deployed
    with) answers the repository paths 404 and leaves the extension out of ``GET /v2``.
    """
    path = path.rstrip("/") or "/"
    if path == "/v2":
        _expect(method, "GET", path)
        return _json(v2_metadata.server_metadata(repository=repository))
    if path == "/v2/repository" or path.startswith("/v2/repository/"):
        if not repository:
            raise NotFound(f"{path}: the model repository extension is not available on AWS Lambda; a function serves "
                           "the models it was deployed with")
        return await _repository(engine, method, path, body)
    if path == "/v2/health/live":
        _expect(method, "GET", path)
        return _json({"live": True})
    if path == "/v2/health/ready":
        _expect(method, "GET", path)
        reason = engine.not_ready_reason()  # the one definition of readiness, shared with SageMaker and Lambda
        if reason is not None:
            raise NotReady(f"not ready: {reason}")
        return _json({"ready": True})
    match = _MODEL.match(path)
    if match is None:
        raise NotFound(f"no such endpoint: {path}; expected /v2, /v2/health/live|ready or /v2/models/{{m}}[/versions/{{v}}]"
                       "[/ready|/config|/infer]")
    model, version, action = match["model"], versions.from_text(match["version"]), match["action"]
    if action is None:
        _expect(method, "GET", path)
        return await _metadata(engine, model, version)
    if action == "/ready":
        _expect(method, "GET", path)
        return _ready(engine, model, version)
    if action == "/config":
        _expect(method, "GET", path)
        _, signature = await engine.metadata(model, version)
        return _json(v2_metadata.model_config(model, signature))
    if action == "/infer":
        _expect(method, "POST", path)
        if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
            raise InvalidInput(f"Content-Encoding {content_encoding!r} is not supported; send the body uncompressed")
        return await infer(engine, model, version, body, header_length)
    raise NotFound(f"{action!r} is not available on {path}; this server implements /ready, /config and /infer "
                   f"(extensions: {list(v2_metadata.EXTENSIONS)})")


async def _repository(engine: Engine, method: str, path: str, body: bytes) -> Answer:
    """Index (a JSON array of rows), load and unload (200 with an empty body, as Triton answers them)."""
    match = _REPOSITORY.match(path)
    if match is None:
        raise NotFound(f"no such endpoint: {path}; the model repository extension has POST /v2/repository/index and "
                       "/v2/repository/models/{m}/load|unload")
    _expect(method, "POST", path)
    v2_repository.check_repository_name(match["repository"] or "")
    if match["index"]:
        ready = v2_repository.ready_flag(v2_repository.json_body(body, "index"))
        return _json([row.as_json() for row in v2_repository.index(engine, ready)])
    action = match["action"]
    parameters = v2_repository.rest_parameters(v2_repository.json_body(body, action), action)
    if action == "load":
        await v2_repository.load(engine, match["model"], parameters)
    else:
        await v2_repository.unload(engine, match["model"], parameters)
    return Answer(b"", JSON)


def _expect(method: str, wanted: str, path: str) -> None:
    if method != wanted:
        raise MethodNotAllowed(f"{path} takes {wanted}")


async def _metadata(engine: Engine, model: str, version: int | None) -> Answer:
    """The same document as gRPC ModelMetadata: every AVAILABLE version, with the one that answered."""
    served, signature = await engine.metadata(model, version)
    versions_now = v2_metadata.served_versions(engine.status(model, None), served)
    return _json(v2_metadata.model_metadata(model, signature, versions_now))


def _ready(engine: Engine, model: str, version: int | None) -> Answer:
    statuses = engine.status(model, version)  # NotFound for an unknown model or version
    if not any(s.state == AVAILABLE for s in statuses):
        states = ", ".join(f"version {s.version} is {s.state}" for s in statuses) or "no versions yet"
        raise NotReady(f"Model '{model}' is not ready: {states}")
    return _json({"name": model, "ready": True})


async def infer(engine: Engine, model: str, version: int | None, body: bytes, header_length: str | None) -> Answer:
    """One infer: JSON or binary framing in, JSON or binary out as the request asks."""
    header, binary = v2_binary.split(body, header_length)
    request = await offload.sized(len(header), lambda: v2_json.parse_request(header))
    blobs = v2_binary.assign(request.inputs, binary)
    prediction = await engine.predict(InferRequest(
        model, version, v2_json.V2Arrays(request, blobs), output_filter=request.outputs,
        work_bytes=len(header) + offload.raw_work(len(body) - len(header)),
        parameters=request.parameters, request_id=request.request_id))
    outputs = prediction.outputs
    binary_out = [name for name in outputs if request.wants_binary(name)]
    text_out = {name: array for name, array in outputs.items() if name not in binary_out}
    size = answer_size.text_bytes(text_out) + sum(outputs[name].nbytes for name in binary_out)
    answer_size.check(size, engine.max_response_bytes)
    served = str(prediction.version)
    header_bytes, out_blobs = await offload.sized(size, lambda: v2_json.encode_response(model, served, request, outputs))
    if not out_blobs:
        return Answer(header_bytes, JSON)
    return Answer(v2_binary.frame(header_bytes, out_blobs), OCTET_STREAM,
                  headers={v2_binary.HEADER: str(len(header_bytes))})

