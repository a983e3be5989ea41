"""API Gateway REST (v1), HTTP API (v2) and function URL events: requests in, responses out.

v1 events carry ``httpMethod``/``path``/``headers`` (+ ``multiValueHeaders``);
v2 and function URLs carry ``requestContext.http`` and ``rawPath`` (with the
stage in front unless it is ``$default``). Bodies arrive as text or, with
``isBase64Encoded``, as base64; binary answers go back base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

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


def _body(event: dict) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the event's body is marked base64 but is not valid base64") from None
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def parse(event: dict) -> HttpRequest:
    """The request an HTTP event carries; InvalidInput when its fields are not what gateways send."""
    try:
        return _parse(event)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"malformed HTTP event ({type(exc).__name__}: {str(exc)[:100]}); expected API Gateway or "
                           "function URL fields") from None


def _parse(event: dict) -> HttpRequest:
    if event.get("version") == V2:
        http = event["requestContext"]["http"]
        path = event.get("rawPath") or http.get("path") or "/"
        stage = event["requestContext"].get("stage")
        if stage and stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1:]
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        return HttpRequest(V2, str(http.get("method", "GET")).upper(), path, headers, _body(event))
    headers = {k.lower(): ", ".join(v) for k, v in (event.get("multiValueHeaders") or {}).items() if v}
    headers.update({k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None})
    return HttpRequest(V1, str(event.get("httpMethod", "GET")).upper(), event.get("path") or "/", headers, _body(event))


def response(request_version: str, status: int, body: bytes, content_type: str) -> dict:
    """The gateway's response shape; binary bodies base64-encoded."""
    text = media_types.canonical(content_type) in _TEXT_TYPES
    encoded = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
    answer = {"statusCode": status, "headers": {"Content-Type": content_type}, "body": encoded, "isBase64Encoded": not text}
    if request_version == V1:
        answer["multiValueHeaders"] = {"Content-Type": [content_type]}
    return answer
