"""Events shaped as API Gateway (REST v1, HTTP API v2), function URLs and S3 send them (fields from AWS's docs)."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus


def _body(body: bytes | str | None, binary: bool) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    raw = body.encode() if isinstance(body, str) else body
    if binary:
        return base64.b64encode(raw).decode(), True
    return raw.decode(), False


def rest_v1(method: str, path: str, body: bytes | str | None = None, headers: dict | None = None, binary: bool = False,
            http_api: bool = False) -> dict:
    """A REST API proxy event; ``http_api``: an HTTP API's payload format 1.0 (it adds ``"version": "1.0"``)."""
    text, encoded = _body(body, binary)
    headers = headers or {}
    event = {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": f"/prod{path}", "stage": "prod",
                           "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "identity": {"sourceIp": "192.0.2.1"}},
        "body": text, "isBase64Encoded": encoded,
    }
    if http_api:
        event["version"] = "1.0"
    return event


def http_v2(method: str, path: str, body: bytes | str | None = None, headers: dict | None = None, binary: bool = False,
            stage: str = "prod", function_url: bool = False) -> dict:
    text, encoded = _body(body, binary)
    raw_path = path if function_url or stage == "$default" else f"/{stage}{path}"
    context = {
        "accountId": "123456789012", "apiId": "api-id", "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
        "requestId": "id", "routeKey": "$default" if function_url else f"{method} {path}", "stage": "$default" if function_url else stage,
        "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390,
    }
    if function_url:
        context["domainName"] = "abcdefg.lambda-url.us-east-1.on.aws"
    event = {
        "version": "2.0", "routeKey": context["routeKey"], "rawPath": raw_path, "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()}, "requestContext": context, "isBase64Encoded": encoded,
    }
    if text is not None:
        event["body"] = text
    return event


def s3_put(bucket: str, *keys: str) -> dict:
    """An ObjectCreated notification; keys are URL-encoded as S3 sends them."""
    return {"Records": [
        {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-01-01T00:00:00.000Z",
         "eventName": "ObjectCreated:Put",
         "s3": {"s3SchemaVersion": "1.0", "configurationId": "ovserve", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": quote_plus(key), "size": 1, "eTag": "0", "sequencer": "0"}}}
        for key in keys
    ]}
