"""How large a returned value is once the runtime has serialised it: Lambda's 6 MB limit applies to that.

Lambda (and its Runtime Interface Emulator) refuse a synchronous response
whose JSON document exceeds 6,291,556 bytes (6 MiB + 100): the invocation
fails with ``Function.ResponseSizeTooLarge``, the runtime exits and the next
call pays a cold start. A raw answer can be well under 6 MiB and still cross
that line: base64 makes binary bodies 4/3 larger, and JSON escapes every
newline and quote of a text body. So the check measures the document itself,
serialised by awslambdaric's own encoder, but only for answers that could be
near the limit (a cheap upper bound decides that first).
"""

from __future__ import annotations

from typing import Any

LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # "maximum allowed payload size (6291556 bytes)", Lambda's and the RIE's
_SLACK = 4096  # status, headers and field names around an HTTP body


def serialized_size(document: Any) -> int:
    """The length of the JSON the runtime posts back for ``document``."""
    try:
        from awslambdaric.lambda_runtime_marshaller import to_json  # loaded already: it is the runtime running us
    except ImportError:  # called outside awslambdaric: the standard encoder writes the same or longer
        import json

        return len(json.dumps(document).encode("utf-8"))
    return len(to_json(document).encode("utf-8"))


def http_response_size(response: dict, limit: int) -> int | None:
    """The serialised size of an HTTP event response when it may exceed ``limit``; None when it surely does not."""
    body = response.get("body") or ""
    # base64 is plain ASCII; text may escape each character to at most 12 bytes (a \\uXXXX\\uXXXX surrogate pair)
    bound = len(body) * (1 if response.get("isBase64Encoded") else 12) + _SLACK
    if bound <= limit:
        return None
    size = serialized_size(response)
    return size if size > limit else None


def direct_answer_size(answer: Any, compact_bytes: int, limit: int) -> int | None:
    """The serialised size of a direct answer whose compact (orjson) form is ``compact_bytes``, when over ``limit``.

    awslambdaric writes ``", "`` and ``": "`` separators and ``\\uXXXX`` escapes
    where orjson writes one byte or raw UTF-8: at most 3 times the compact form.
    """
    if 3 * compact_bytes + _SLACK <= limit:
        return None
    size = serialized_size(answer)
    return size if size > limit else None
