"""Percent-decoding a URL path once, where a transport hands it over.

Sanic (24.12 to 25.12) passes ``<rest:path>`` and ``<name:str>`` parameters
and ``request.path`` exactly as they arrived, still percent-encoded: without
decoding, a model named ``my model`` is unreachable at ``/models/my%20model``
and ``/v1/models/m%3Apredict`` is not a predict. Every front end decodes at
its boundary with this one function, so the core sees names as they were
configured, and ``%2F`` becomes ``/`` like any other character (model names
cannot contain ``/``, so it never reaches a model by accident).
"""

from __future__ import annotations

from urllib.parse import unquote

from ..errors import InvalidInput


def decode_path(text: str) -> str:
    """``text`` percent-decoded as UTF-8 (``+`` stays ``+``); InvalidInput when the bytes are not UTF-8."""
    if "%" not in text:
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        shown = text if len(text) <= 200 else text[:197] + "..."
        raise InvalidInput(f"path {shown!r} is not valid percent-encoded UTF-8; expected names percent-encoded as UTF-8") from None
