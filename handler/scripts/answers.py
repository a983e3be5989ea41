"""What a script returns or raises, as one answer: body, content type, status.

Returns: ``(body, content_type)`` as AWS's container takes them, or
``(body, content_type, status)`` so a script can answer a 4xx itself; the
toolkit's hooks may also return a bare body (the content type is then the
request's ``Accept``). A body may be ``bytes``, ``str`` or ``None``; a dict,
list or numpy array is written as JSON rather than refused.

Raises, mapped better than AWS's container (which answers every exception
with 500 and ``str(e)``):

- an ovserve error (a bad tensor from the inner predict: 400; a model still
  loading: 503) keeps its status, also when the script wrapped it in its own
  exception (``raise ValueError(...) from e``);
- ``requests.HTTPError`` from a loopback call (``raise_for_status()``) answers
  the status the TF Serving API gave, with its message;
- anything else is a 500 whose message names the script, the function and the
  exception; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import InternalError, OvserveError
from ..failures import error_body

log = logging.getLogger("ovserve.scripts")
_MESSAGE_CHARS = 500  # enough of an exception's text to act on, never a payload's worth


@dataclass(frozen=True)
class ScriptAnswer:
    body: bytes
    content_type: str
    status: int = 200


class ScriptFailed(InternalError):
    """A script raised: 500, naming the script, the function and the exception."""


_OWN_CODE = str(Path(__file__).parent)


def script_traceback(exc: BaseException) -> str:
    """``exc``'s traceback from its first frame outside this package (and importlib): what the script's author needs."""
    frames = exc.__traceback__
    while frames is not None and frames.tb_next is not None:
        filename = frames.tb_frame.f_code.co_filename
        if not (filename.startswith(_OWN_CODE) or filename.startswith("<frozen")):
            break
        frames = frames.tb_next
    return "".join(traceback.format_exception(type(exc), exc, frames))


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:_MESSAGE_CHARS]}" if text else type(exc).__name__


def _ovserve_cause(exc: BaseException) -> OvserveError | None:
    """The ovserve error ``exc`` was raised from (``from e``, or while handling it), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OvserveError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _http_failure(exc: BaseException, script: str, function: str) -> ScriptAnswer | None:
    """``requests.HTTPError`` (or ours) from a TF Serving call: that call's status, and its error message."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int) or not 400 <= status <= 599:
        return None
    said = ""
    try:
        document = orjson.loads(getattr(response, "content", b"") or b"")
        said = document.get("error", "") if isinstance(document, dict) else ""
    except (orjson.JSONDecodeError, TypeError):
        pass
    detail = f"; the TF Serving API answered {status}: {str(said)[:_MESSAGE_CHARS]}" if said else ""
    return ScriptAnswer(error_body(f"{script}: {function} raised {describe(exc)}{detail}"), "application/json", status)


def from_exception(exc: Exception, script: str, function: str) -> ScriptAnswer:
    """The answer for ``exc`` raised by ``function``; raises the ovserve error to keep, or ``ScriptFailed``."""
    if isinstance(exc, OvserveError):
        raise exc
    inner = _ovserve_cause(exc)
    if inner is not None:
        log.debug("script raised from an ovserve error", extra={"script": script, "function": function,
                                                               "exception": describe(exc)})
        raise type(inner)(f"{inner.message} ({script}: {function} raised {describe(exc)})") from None
    http = _http_failure(exc, script, function)
    if http is not None:
        if http.status >= 500:
            log.error("script failed on a TF Serving call", extra={"script": script, "function": function, "status": http.status})
        return http
    log.error("script raised", extra={"script": script, "function": function, "exception": describe(exc),
                                      "traceback": script_traceback(exc)})
    raise ScriptFailed(f"{script}: {function} raised {describe(exc)}") from None


def body_bytes(body: Any, script: str, function: str) -> bytes:
    """A returned body as bytes; a JSON-able value is written as JSON."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (dict, list, tuple, int, float, bool, np.ndarray, np.generic)):
        try:
            return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise ScriptFailed(f"{script}: {function} returned a {type(body).__name__} body that is not JSON: {exc}") from None
    raise ScriptFailed(f"{script}: {function} returned a {type(body).__name__} body; expected bytes or str")


def from_return(returned: Any, script: str, function: str, default_type: str, pair: bool = True) -> ScriptAnswer:
    """The answer for what ``function`` returned.

    ``pair``: AWS's hooks return ``(body, content_type)``; the toolkit's may return a bare body too.
    """
    if isinstance(returned, tuple) and len(returned) in (2, 3):
        body, content_type = returned[0], returned[1]
        status = returned[2] if len(returned) == 3 else 200
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ScriptFailed(f"{script}: {function} returned status {status!r}; expected an HTTP status from 200 to 599")
        if content_type is not None and not isinstance(content_type, str):
            raise ScriptFailed(f"{script}: {function} returned a {type(content_type).__name__} content type; expected a str")
        return ScriptAnswer(body_bytes(body, script, function), content_type or default_type, status)
    if pair:
        raise ScriptFailed(
            f"{script}: {function} returned a {type(returned).__name__}; expected (body, content_type), "
            "or (body, content_type, status)"
        )
    return ScriptAnswer(body_bytes(returned, script, function), default_type)
