"""TF Serving JSON answers written a slice at a time, byte for byte what ``tfs_json.encode_predict`` writes.

orjson holds the GIL for a whole ``dumps`` call: 55 ms for 20 MB of floats
here, and a worker thread doing that blocks the event loop just as long.
Written in slices of about ``CHUNK_ELEMENTS`` elements, each call holds the
GIL for about a millisecond, and the loop gets its turn in between.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InvalidInput
from .tfs_json import COLUMN, dumps

CHUNK_ELEMENTS = 64 * 1024


def _array(array: np.ndarray) -> Iterator[bytes]:
    """The JSON of ``array`` in pieces whose concatenation equals ``dumps(array)``."""
    array = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    if array.ndim == 0 or array.shape[0] < 2 or array.size <= CHUNK_ELEMENTS:
        yield dumps(array)
        return
    rows = max(1, CHUNK_ELEMENTS // max(1, array.size // array.shape[0]))
    yield b"["
    for start in range(0, array.shape[0], rows):
        if start:
            yield b","
        yield dumps(array[start:start + rows])[1:-1]
    yield b"]"


def _rows(arrays: dict[str, np.ndarray], count: int) -> Iterator[bytes]:
    per_row = max(1, sum(array.size for array in arrays.values()) // max(count, 1))
    step = max(1, CHUNK_ELEMENTS // per_row)
    yield b"["
    for start in range(0, count, step):
        if start:
            yield b","
        yield dumps([{name: array[i] for name, array in arrays.items()} for i in range(start, min(start + step, count))])[1:-1]
    yield b"]"


def encode_predict(outputs: dict[str, np.ndarray], form: str) -> bytes:
    """What ``tfs_json.encode_predict(outputs, form)`` returns, written a slice at a time."""
    arrays = {name: array if array.flags.c_contiguous else np.ascontiguousarray(array) for name, array in outputs.items()}
    key = b'{"outputs":' if form == COLUMN else b'{"predictions":'
    if len(arrays) == 1:
        return key + b"".join(_array(next(iter(arrays.values())))) + b"}"
    if form == COLUMN:
        parts = [key, b"{"]
        for position, (name, array) in enumerate(arrays.items()):
            parts += [b"," if position else b"", dumps(name), b":", *_array(array)]
        return b"".join(parts) + b"}}"
    batches = {array.shape[0] if array.ndim else None for array in arrays.values()}
    if len(batches) != 1 or None in batches:
        raise InvalidInput(
            "the model's outputs do not share a batch dimension, so they cannot be split into instances; "
            'send the request in columnar format ("inputs") instead'
        )
    return key + b"".join(_rows(arrays, batches.pop())) + b"}"  # type: ignore[arg-type]
