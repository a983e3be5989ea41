"""KServe v2 infer bodies on SageMaker's ``/invocations`` (and Lambda's), as AWS's Triton containers take them.

SageMaker passes no custom request headers, so the binary tensor data
extension's ``Inference-Header-Content-Length`` travels in the content type:
``application/vnd.sagemaker-triton.binary+json;json-header-size=N`` is N bytes
of JSON header, then the inputs' raw bytes (the name and parameter are Triton's
SageMaker server's, ``src/sagemaker_server.cc``, and AWS's Triton examples').
Answers carrying binary outputs come back in the same type with the answer's
own header size; answers without any are ``application/json``, as Triton does.
A v2 request also arrives as plain ``application/json``; it is told apart from
a TF Serving body by its structure (``inputs`` is a list of tensor objects,
never TF Serving's map or bare values). The JSON and binary framing are
``v2_json``'s and ``v2_binary``'s, exactly as on ``/v2/models/{m}/infer``.

The body may name its model (``model_name``) and version (``model_version``,
digits or an integer, as the answer's own ``model_version`` and Lambda's
direct events spell it). Triton's SageMaker server reads neither (it always
serves ``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME`` at the version policy's
choice); this server honours both, because answering a request that names
version 1 from version 2 would be silently wrong. ``invocations`` decides how
they combine with the custom attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson

from .. import versions
from ..errors import InvalidInput
from . import v2_binary, v2_json
from .limits import DEFAULT_MAX_BYTES
from .media_types import JSON
from .media_types import V2_BINARY as BINARY_JSON

HEADER_SIZE = "json-header-size"
# What a request that is not v2 gets when it asks for the binary type: every output as raw bytes.
ALL_BINARY = v2_json.V2Request(inputs=[], outputs=None, binary_outputs={}, binary_default=True)


@dataclass(frozen=True)
class V2Body:
    """A v2 infer request from an ``/invocations`` body: the request, its binary inputs, and the model it names."""

    request: v2_json.V2Request
    blobs: Mapping[str, memoryview]
    model: str | None = None


def header_size(content_type: str | None) -> int | None:
    """The ``json-header-size`` parameter of a Content-Type, or None when it has none; InvalidInput when malformed."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != HEADER_SIZE:
            continue
        text = value.strip().strip('"')
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise InvalidInput(f"Content-Type parameter {HEADER_SIZE} must be a non-negative integer, got {value.strip()[:40]!r}")
        return int(text)
    return None


def _named_model(request: v2_json.V2Request) -> str | None:
    """The body's ``model_name``: None when absent or empty (the endpoint's default)."""
    name = request.model_name
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise InvalidInput(f'"model_name" must be a string, got {type(name).__name__}')
    return name


def requested_version(request: v2_json.V2Request) -> int | None:
    """The body's ``model_version`` as a version number; None when absent, empty or 0 (the default version).

    Digits as a string (what v2 answers carry) or a JSON integer; anything
    else non-numeric is refused exactly as the TF Serving API refuses it in a
    URL (``versions.from_text``: 404 "versions are positive integers").
    """
    value = request.model_version
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f'"model_version" must be a version number, as a string of digits ("2") or an integer; '
                           f"got {orjson.dumps(value)[:40].decode(errors='replace')}")
    return versions.from_text(str(value))


def _with_size_wording(exc: InvalidInput) -> InvalidInput:
    return InvalidInput(exc.message.replace(v2_binary.HEADER, f"the Content-Type's {HEADER_SIZE}"))


def parse_binary(body: bytes, content_type: str | None, max_bytes: int = DEFAULT_MAX_BYTES) -> V2Body:
    """A ``BINARY_JSON`` body: ``json-header-size`` bytes of JSON, then the inputs' raw bytes (all JSON without it)."""
    size = header_size(content_type)
    if size is not None:
        if size == 0:
            raise InvalidInput(f"{HEADER_SIZE} is 0: a body without a JSON header is not supported; send the infer "
                               "request's JSON first")
        if size > len(body):
            raise InvalidInput(f"{HEADER_SIZE} is {size}, but the body has only {len(body)} bytes")
    header, binary = v2_binary.split(body, None if size is None else str(size))
    request = v2_json.parse_request(header, max_bytes)
    try:
        blobs = v2_binary.assign(request.inputs, binary)
    except InvalidInput as exc:
        raise _with_size_wording(exc) from None
    return V2Body(request, blobs, _named_model(request))


def _is_tensor_list(document: Any) -> bool:
    """Whether a JSON document has v2's shape: ``inputs`` a list of tensor objects (TF Serving's b64 objects aside)."""
    if not isinstance(document, dict) or "instances" in document:
        return False
    inputs = document.get("inputs")
    return (isinstance(inputs, list) and bool(inputs)
            and all(isinstance(item, dict) and set(item) != {"b64"} for item in inputs))


def parse_json(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> V2Body | None:
    """An ``application/json`` body as a v2 request, or None when it is a TF Serving body.

    Every v2 input has a ``"name"``, so a body without that token is never
    parsed here. A body that parses as a v2 request is one (a TF Serving body
    cannot be: its ``inputs`` never holds objects with a name, datatype and
    shape); one that does not is v2's 400 only if its structure is v2's, and
    TF Serving's to judge otherwise.
    """
    if b'"name"' not in body or b'"inputs"' not in body:
        return None
    try:
        request = v2_json.parse_request(body, max_bytes)
    except InvalidInput:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # not JSON at all: TF Serving's parser says so, as it always has
        if _is_tensor_list(document):
            raise
        return None
    return V2Body(request, {}, _named_model(request))


def binary_by_default(request: v2_json.V2Request) -> v2_json.V2Request:
    """What an explicit ``Accept`` of the binary type gets: binary outputs unless the request says otherwise."""
    if request.parameters.get("binary_data_output") is False:
        return request
    return replace(request, binary_default=True)


def only_json(request: v2_json.V2Request) -> v2_json.V2Request:
    """``request`` with every output asked for as JSON data: what an explicit ``Accept: application/json`` gets."""
    return replace(request, binary_outputs={}, binary_default=False)


def encode(model: str, version: int, request: v2_json.V2Request, outputs: Mapping[str, np.ndarray]) -> tuple[bytes, str]:
    """(body, Content-Type) of a v2 answer: framed as ``BINARY_JSON`` when an output is binary, else plain JSON."""
    header, blobs = v2_json.encode_response(model, str(version), request, outputs)
    if not blobs:
        return header, JSON
    return v2_binary.frame(header, blobs), f"{BINARY_JSON};{HEADER_SIZE}={len(header)}"
