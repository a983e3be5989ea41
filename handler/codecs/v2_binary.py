"""The binary tensor data extension of KServe v2 REST: a JSON header, then raw tensor bytes.

The ``Inference-Header-Content-Length`` header alone decides the framing
(tritonclient's sync client sends no Content-Type at all): without it the whole
body is JSON; with it, that many bytes are JSON and the rest are the
``binary_data_size`` blobs of the inputs that carry one, in ``inputs`` order.
The blobs are memoryview slices of the body: nothing is copied on the way in.
Answers are built the same way (``frame``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidInput
from .v2_json import V2Input

HEADER = "Inference-Header-Content-Length"


def split(body: bytes, header_length: str | None) -> tuple[memoryview, memoryview]:
    """(JSON header, binary part) of ``body``; InvalidInput when the header length is not a count the body holds."""
    view = memoryview(body)
    if header_length is None:
        return view, view[len(view):]
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise InvalidInput(f"{HEADER} must be a non-negative integer, got {header_length[:40]!r}")
    length = int(text)
    if length > len(body):
        raise InvalidInput(f"{HEADER} is {length}, but the body has only {len(body)} bytes")
    if length == 0:
        raise InvalidInput(f"{HEADER} is 0: a body without a JSON header is not supported; send the infer request's JSON first")
    return view[:length], view[length:]


def assign(inputs: Sequence[V2Input], binary: memoryview) -> dict[str, memoryview]:
    """Each binary input's slice of ``binary``; InvalidInput unless their binary_data_size values add up to it exactly."""
    slices: dict[str, memoryview] = {}
    offset = 0
    for item in inputs:
        if item.binary_size is None:
            continue
        end = offset + item.binary_size
        if end > len(binary):
            raise InvalidInput(
                f"input '{item.name}': binary_data_size {item.binary_size} goes past the end of the body "
                f"({len(binary) - offset} binary bytes remain after the inputs before it)"
            )
        slices[item.name] = binary[offset:end]
        offset = end
    if offset != len(binary):
        raise InvalidInput(
            f"the body has {len(binary)} bytes after the JSON header, but the inputs' binary_data_size values add up to "
            f"{offset}; check {HEADER}"
        )
    return slices


def frame(header: bytes, blobs: Sequence[bytes | memoryview]) -> bytes:
    """The answer's body: the JSON header, then every binary output's bytes in order."""
    return b"".join((header, *blobs))
