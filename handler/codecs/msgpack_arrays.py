"""``application/msgpack`` bodies: a map of input name -> array, answers the same way.

Arrays travel as msgpack-numpy writes them (``{"nd": True, "type": "<f4",
"shape": [...], "data": <bytes>}``, keys as bytes or text), so
``msgpack_numpy`` clients work unchanged; plain nested lists are accepted
too. Object arrays (``kind`` ``O``, which msgpack-numpy would unpickle) are
refused, and so are dates, zero-width and other non-numeric dtypes (declared.py);
``data`` must be exactly as long as ``shape`` and ``type`` say.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from ..errors import InvalidInput
from ..signature import Signature
from ..validation import check_names
from .declared import check_dtype, declared_bytes
from .limits import DEFAULT_MAX_BYTES
from .tfs_json import to_array

_EXPECTED = "expected a msgpack map of input name -> array (msgpack-numpy encoding or nested lists)"


def _field(value: dict, key: str) -> Any:
    return value.get(key.encode(), value.get(key))


def _is_ndarray(value: Any) -> bool:
    return isinstance(value, dict) and _field(value, "nd") is True


def _ndarray(name: str, value: dict, max_bytes: int) -> np.ndarray:
    kind = _field(value, "kind")
    if kind not in (None, b"", ""):
        raise InvalidInput(f"input {name!r}: msgpack-numpy kind {kind!r} is not accepted; expected plain arrays (no pickles)")
    type_text, shape, data = _field(value, "type"), _field(value, "shape"), _field(value, "data")
    if isinstance(type_text, bytes):
        type_text = type_text.decode("ascii", "replace")
    try:
        dtype = np.dtype(type_text) if isinstance(type_text, str) else None
    except (TypeError, ValueError, SyntaxError, OverflowError):  # numpy's dtype parser raises all of these
        dtype = None
    if dtype is None or dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise InvalidInput(f"input {name!r}: type {str(type_text)[:40]!r} is not a plain numpy dtype string such as '<f4'")
    what = f"input {name!r}"
    check_dtype(dtype, what)
    # bool is an int in Python: [true, 4] is refused here rather than read as [1, 4]
    if not isinstance(shape, (list, tuple)) or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInput(f"{what}: shape must be a list of non-negative integers")
    if not isinstance(data, bytes):
        raise InvalidInput(f"{what}: data must be msgpack binary")
    nbytes = declared_bytes(shape, dtype, what, max_bytes)
    if nbytes != len(data):
        raise InvalidInput(f"{what}: shape {list(shape)} of {dtype} needs {nbytes} bytes of data, got {len(data)}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    if dtype.kind == "U":
        array = np.char.encode(array, "utf-8")
    return array


class MsgpackRequest:
    """A decoded msgpack body; values become typed arrays once the signature is known."""

    def __init__(self, values: dict[str, Any], max_bytes: int) -> None:
        self.values = values
        self.max_bytes = max_bytes

    def arrays(self, signature: Signature) -> dict[str, np.ndarray]:
        values = self.values
        if list(values) == [None]:
            names = signature.input_names()
            if len(names) != 1:
                raise InvalidInput(f"the body holds one unnamed array and the model has inputs {names}; {_EXPECTED}")
            values = {names[0]: values[None]}
        check_names(values, signature)
        return {
            name: _ndarray(name, value, self.max_bytes) if _is_ndarray(value) else to_array(signature.input(name), value)  # type: ignore[arg-type]
            for name, value in values.items()
        }


def parse(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> MsgpackRequest:
    """Structure checks only; InvalidInput when the body is not msgpack or not a map of arrays."""
    try:
        document = msgpack.unpackb(body, raw=False, strict_map_key=False, max_bin_len=len(body))
    except Exception as exc:  # msgpack raises several unrelated types for broken input
        raise InvalidInput(f"request body is not valid msgpack ({type(exc).__name__}); {_EXPECTED}") from None
    if _is_ndarray(document) or isinstance(document, list):
        return MsgpackRequest({None: document}, max_bytes)  # type: ignore[dict-item]
    if not isinstance(document, dict) or not document:
        raise InvalidInput(f"request body is a msgpack {type(document).__name__}; {_EXPECTED}")
    named = {}
    for key, value in document.items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if not isinstance(name, str):
            raise InvalidInput(f"msgpack map key {str(key)[:40]!r} is not an input name; {_EXPECTED}")
        named[name] = value
    return MsgpackRequest(named, max_bytes)


def _encoded(array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind in "SU":
        return [_encoded(item) for item in array] if array.ndim else (
            array.item() if isinstance(array.item(), bytes) else str(array.item()).encode()
        )
    contiguous = np.ascontiguousarray(array)
    return {b"nd": True, b"type": contiguous.dtype.str, b"kind": b"", b"shape": list(contiguous.shape), b"data": contiguous.tobytes()}


def dump(outputs: dict[str, np.ndarray]) -> bytes:
    """A map of output name -> msgpack-numpy array (string outputs as nested lists of bytes)."""
    return msgpack.packb({name: _encoded(array) for name, array in outputs.items()}, use_bin_type=True)
