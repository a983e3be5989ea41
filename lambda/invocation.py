"""The invocation being served: its ids on every log line, and what it used (model, version, records) for its metrics.

Lambda writes its own request id (``context.aws_request_id``) on the START,
END and REPORT lines of every invocation, so that is the id operators search
CloudWatch Logs by. ovserve answers under the id ``request_ids`` chooses, which
the shared request context puts on every log line as ``request_id``; when the
two differ (a caller's ``x-request-id``, API Gateway's id), a log filter adds
``aws_request_id`` as well, so either finds the lines.

The state lives in a ``ContextVar``: the handler's thread sets it, and the
coroutine it submits to the event loop runs in a copy of that context
(``call_soon_threadsafe`` captures the caller's context, and the task copies
it), so the engine on the loop thread updates the same object, and concurrent
invocations (``AWS_LAMBDA_MAX_CONCURRENCY``) never see each other's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ovserve.handler import request_context


@dataclass(slots=True)
class Invocation:
    """One invocation: its ids, and the served model and version that answered and how many records (0 until one does)."""

    request_id: str
    aws_request_id: str
    interface: str
    model: str | None = None
    version: int | None = None
    records: int = 0


_current: ContextVar[Invocation | None] = ContextVar("ovserve_lambda_invocation", default=None)


def current() -> Invocation | None:
    """The invocation this code runs for, or None (init, or outside the handler)."""
    return _current.get()


@contextmanager
def serving(request_id: str | None, aws_request_id: str | None, interface: str, method: str = "") -> Iterator[Invocation]:
    """Open the request context (``request_id`` or a fresh one) and this invocation's state for the ``with`` body."""
    token = request_context.begin(request_id, request_context.LAMBDA, interface, method)
    accepted = request_context.current()
    assert accepted is not None  # begin just set it
    invocation = Invocation(accepted.request_id, aws_request_id or accepted.request_id, interface)
    own = _current.set(invocation)
    try:
        yield invocation
    finally:
        _current.reset(own)
        request_context.end(token)


class AwsRequestIdFilter(logging.Filter):
    """Adds ``aws_request_id`` to a log record written during an invocation whose ``request_id`` is another id."""

    def filter(self, record: logging.LogRecord) -> bool:
        invocation = _current.get()
        if invocation is not None and invocation.aws_request_id != invocation.request_id:
            record.aws_request_id = invocation.aws_request_id
        return True


def log_both_ids() -> None:
    """Install the filter on every root handler (``logs.configure`` has made them the JSON ones)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(AwsRequestIdFilter())
