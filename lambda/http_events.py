"""API Gateway REST (v1), HTTP API (v2) and function URL events: requests in, responses out.

v1 events carry ``httpMethod``/``path``/``headers`` (+ ``multiValueHeaders``);
v2 and function URLs carry ``requestContext.http`` and ``rawPath`` (with the
stage in front unless it is ``$default``). Bodies arrive as text or, with
``isBase64Encoded``, as base64; binary answers go back base64-encoded. A
field of the wrong JSON type is InvalidInput naming it (a 400), never a 500.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ovserve.handler.codecs import media_types
from ovserve.handler.errors import InvalidInput

V1, V2 = "1.0", "2.0"
_TEXT_TYPES = {media_types.JSON, media_types.JSONLINES, media_types.CSV}


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, whichever gateway sent it; header names are lower case."""

    version: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def is_http(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    if event.get("version") == V2 and isinstance(event.get("requestContext"), dict):
        return "http" in event["requestContext"]
    return "httpMethod" in event and "requestContext" in event


def version_of(event: dict) -> str:
    return V2 if event.get("version") == V2 else V1


def _text(value: Any, field: str, expected: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f'"{field}" is a JSON {_kind(value)}; expected {expected}')
    return value


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _body(event: dict) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    _text(body, "body", "a string (base64 when isBase64Encoded is true) or null")
    encoded = event.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise InvalidInput(f'"isBase64Encoded" is a JSON {_kind(encoded)}; expected true or false')
    if encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the event's body is marked base64 but is not valid base64") from None
    return body.encode("utf-8", "surrogatepass")


def _headers(event: dict, field: str, multi: bool = False) -> dict[str, str]:
    """Lower-case names to values; API Gateway sends null for a header without a value (skipped)."""
    headers = event.get(field)
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise InvalidInput(f'"{field}" is a JSON {_kind(headers)}; expected an object of header names')
    found = {}
    for name, value in headers.items():
        if value is None:
            continue
        if multi:
            if not isinstance(value, list):
                raise InvalidInput(f'"{field}" has {name!r}: a JSON {_kind(value)}; expected an array of strings')
            if not all(isinstance(v, str) for v in value):
                raise InvalidInput(f'"{field}" has {name!r}: an array holding a non-string; expected an array of strings')
            if value:
                found[name.lower()] = ", ".join(value)
        else:
            found[name.lower()] = _text(value, f"{field}", f"string values (header {name!r} is not one)")
    return found


def _decoded_path(path: str, field: str) -> str:
    """``path`` with its %XX escapes decoded once, as the standalone server routes it."""
    try:
        return unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f'"{field}" is not valid percent-encoded UTF-8; expected a path such as /v1/models/name') from None


def _path(value: Any, field: str, decode: bool) -> str:
    if value is None or value == "":
        return "/"
    path = _text(value, field, "a path string starting with /")
    if not path.startswith("/"):
        raise InvalidInput(f'"{field}" is {path[:100]!r}; expected a path starting with /')
    return _decoded_path(path, field) if decode else path


def _method(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f'"{field}" is a JSON {_kind(value)}; expected an HTTP method such as "POST"')
    return value.upper()


def _is_function_url(context: dict) -> bool:
    return ".lambda-url." in str(context.get("domainName") or "")


def parse(event: dict) -> HttpRequest:
    """The request an HTTP event carries; InvalidInput names the field that is not what gateways send."""
    try:
        return _parse(event)
    except (KeyError, TypeError, AttributeError) as exc:  # a shape no check above foresaw: still the caller's 400
        raise InvalidInput(f"malformed HTTP event ({type(exc).__name__}: {str(exc)[:100]}); expected API Gateway or "
                           "function URL fields") from None


def _parse(event: dict) -> HttpRequest:
    """See ``parse``.

    Paths are percent-decoded exactly once: REST APIs (v1 events without
    ``version``) and function URLs pass the path still encoded, while HTTP
    APIs decode it themselves, in both payload formats (events with
    ``version``), so decoding those again would turn a literal ``%41`` into ``A``.
    """
    if event.get("version") == V2:
        context = event["requestContext"]
        http = context["http"]
        if not isinstance(http, dict):
            raise InvalidInput(f'"requestContext.http" is a JSON {_kind(http)}; expected an object')
        raw = event.get("rawPath")
        path = _path(http.get("path") if raw in (None, "") else raw, "rawPath", decode=_is_function_url(context))
        stage = context.get("stage")
        if isinstance(stage, str) and stage and stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1:]
        method = _method(http.get("method", "GET"), "requestContext.http.method")
        return HttpRequest(V2, method, path, _headers(event, "headers"), _body(event))
    single = _headers(event, "headers")
    headers = {**_headers(event, "multiValueHeaders", multi=True), **single}
    path = _path(event.get("path"), "path", decode="version" not in event)
    return HttpRequest(V1, _method(event.get("httpMethod"), "httpMethod"), path, headers, _body(event))


def response(request_version: str, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> dict:
    """The gateway's response shape; binary bodies base64-encoded; ``headers`` beside Content-Type (v2's framing header)."""
    text = media_types.canonical(content_type) in _TEXT_TYPES
    encoded = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
    all_headers = {"Content-Type": content_type, **(headers or {})}
    answer = {"statusCode": status, "headers": all_headers, "body": encoded, "isBase64Encoded": not text}
    if request_version == V1:
        answer["multiValueHeaders"] = {name: [value] for name, value in all_headers.items()}
    return answer
