"""The request being served now: its id and where it came in, for its log lines and its metrics.

Adapters open one context per request (``begin``) with the id the caller sent
(``x-request-id``, gRPC metadata, SageMaker's or Lambda's own) or a new one, and
the labels OpenVINO Model Server's metrics use (``api``, ``interface``,
``method``). The core reads it where every request passes, so counting and
log correlation happen once, not per transport. A ``ContextVar`` follows the
request across ``await`` and into tasks it starts; code that hands work to a
thread pool copies the context explicitly (``contextvars.copy_context``).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

# An id sent in is echoed and logged, so it is bounded and printable: anything else is replaced, not trusted.
MAX_ID_LENGTH = 128

# OVMS's label values (serving-features.md A2); SageMaker and Lambda are ovserve's own.
TFS = "TensorFlowServing"
KSERVE = "KServe"
SAGEMAKER = "SageMaker"
LAMBDA = "Lambda"
REST = "REST"
GRPC = "gRPC"


@dataclass(slots=True)
class RequestInfo:
    """One request: ``request_id`` always set; the labels empty until the adapter knows them."""

    request_id: str
    api: str = ""
    interface: str = ""
    method: str = ""


_current: ContextVar[RequestInfo | None] = ContextVar("ovserve_request", default=None)


def accepted_id(sent: str | None) -> str:
    """``sent`` when it is a usable id (1..128 printable ASCII characters, no spaces), else a fresh one."""
    if sent and len(sent) <= MAX_ID_LENGTH and sent.isascii() and sent.isprintable() and " " not in sent:
        return sent
    return uuid.uuid4().hex


def begin(sent_id: str | None, api: str = "", interface: str = "", method: str = "") -> Token[RequestInfo | None]:
    """Make this the current request; pass the returned token to ``end`` when the answer is sent."""
    return _current.set(RequestInfo(accepted_id(sent_id), api, interface, method))


def end(token: Token[RequestInfo | None]) -> None:
    """Leave the request opened by ``begin``."""
    _current.reset(token)


def current() -> RequestInfo | None:
    """The request this code runs for, or None outside any (start-up, polling, shutdown)."""
    return _current.get()
