"""How large an answer will be, estimated from the output arrays before a byte is encoded.

A model whose output shape comes from input values (Broadcast, NonZero, TopK
with a runtime k) can turn a 27-byte request into gigabytes of output; as
JSON text that took 28 s to write and held the event loop for most of it. The
estimate is an upper bound of the text each element can take (orjson writes
an f32 in at most 15 characters with its comma, an f64 in 25, an int64 in 21),
so checking it against the limit costs nothing and refuses before encoding.
Binary answers (npy, npz, msgpack, protobuf) cost their arrays' bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import PayloadTooLarge
from . import media_types

# Most characters one element can take as JSON or CSV text, separator included, by numpy kind and item size.
_FLOAT_CHARS = {2: 11, 4: 15, 8: 25}
_INT_CHARS = {1: 5, 2: 7, 4: 12, 8: 21}
_TEXT_TYPES = (media_types.JSON, media_types.JSONLINES, media_types.CSV)
_HEADER_BYTES = 256  # names, brackets, npy headers: per output


def _element_chars(array: np.ndarray) -> int:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "f":
        return _FLOAT_CHARS.get(size, 25)
    if kind in "iu":
        return _INT_CHARS.get(size, 21)
    if kind == "b":
        return 6
    if kind == "O":
        size = max((len(item) for item in array.flat if isinstance(item, (bytes, str))), default=8)
    return size * 4 // 3 + 12  # strings: base64 for bytes that are not UTF-8 ({"b64": ...}), quotes, comma


def text_bytes(outputs: Mapping[str, np.ndarray]) -> int:
    """At most how many bytes ``outputs`` take as JSON (row or column form) or CSV text."""
    total = 0
    for name, array in outputs.items():
        rows = array.shape[0] if array.ndim else 1
        total += array.size * _element_chars(array) + rows * (len(name) + 8) + _HEADER_BYTES
    return total


def binary_bytes(outputs: Mapping[str, np.ndarray]) -> int:
    """About how many bytes ``outputs`` take in a binary format."""
    return sum(array.nbytes + _HEADER_BYTES for array in outputs.values())


def estimate(media_type: str, outputs: Mapping[str, np.ndarray]) -> int:
    """The answer's size as ``media_type`` (an upper bound for text formats)."""
    return text_bytes(outputs) if media_type in _TEXT_TYPES else binary_bytes(outputs)


def check(size: int, limit: int, what: str = "JSON") -> None:
    """PayloadTooLarge naming the setting when an answer of ``size`` bytes exceeds ``limit``."""
    if size > limit:
        raise PayloadTooLarge(
            f"the answer would take up to {size} bytes as {what}, more than the {limit} bytes --rest_max_response_mb "
            f"(OVSERVE_REST_MAX_RESPONSE_MB, {limit / (1 << 20):g} MiB) allows; ask for fewer outputs (output_filter) "
            "or smaller inputs, or raise the limit"
        )
