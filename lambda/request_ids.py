"""Which id an invocation answers under.

HTTP events: the caller's ``x-request-id`` when it is usable (1 to 128
printable ASCII characters, no spaces), else the gateway's
``requestContext.requestId``, else Lambda's ``aws_request_id``. The caller's
id wins because a client that sends one expects to find it again, on the
answer and in the logs, as the standalone server and SageMaker treat it. The
gateway's id comes next because the client already holds it (API Gateway
returns it in ``x-amzn-RequestId`` or ``apigw-requestid``, and writes it in
its access logs), so echoing it joins client, gateway and function. Lambda's
id is never lost: its START/END/REPORT lines carry it, and every ovserve line
of the invocation names it as ``aws_request_id`` when it differs.

Direct invocations and S3 events have no caller-set id: they answer under
Lambda's ``aws_request_id``, which the invoking SDK already sees.
"""

from __future__ import annotations

from typing import Any

from ovserve.handler import request_context

from .http_events import HttpRequest

HEADER = request_context.HEADER


def _usable(value: Any) -> bool:
    return isinstance(value, str) and request_context.usable(value)


def of_lambda(context: Any) -> str | None:
    """Lambda's id for this invocation (None without a context, as when the handler is called directly)."""
    value = getattr(context, "aws_request_id", None)
    return value if _usable(value) else None


def _sent_header(event: dict, request: HttpRequest | None) -> Any:
    """The caller's ``x-request-id``: from the parsed request, or, for an event too malformed to parse, read leniently."""
    if request is not None:
        return request.headers.get(HEADER)
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None
    return next((value for name, value in headers.items() if isinstance(name, str) and name.lower() == HEADER), None)


def for_http(event: dict, request: HttpRequest | None, aws_request_id: str | None) -> str | None:
    """The id an HTTP event answers under (see the module docstring); None lets the request context make one."""
    sent = _sent_header(event, request)
    if _usable(sent):
        return sent
    context = event.get("requestContext")
    gateway = context.get("requestId") if isinstance(context, dict) else None
    return gateway if _usable(gateway) else aws_request_id
