"""KServe v2 (Open Inference Protocol) tensors as raw bytes, shared by the REST and gRPC halves.

Both transports carry the same raw form (REST's binary tensor data extension,
gRPC's ``raw_input_contents``): flat, row-major, little-endian, no padding;
BOOL one byte per element; BYTES ``<u32 LE length><bytes>`` per element; BF16
the upper 16 bits of an FP32. One module so both agree on every size check,
and so a declared shape is checked against the bytes actually present before
anything is allocated (a ``10**12``-element shape over a few bytes is a 400,
never a ``MemoryError``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from ..errors import InvalidInput
from ..tensors import BY_NUMPY, BY_V2_NAME
from .declared import declared_bytes
from .limits import DEFAULT_MAX_BYTES

BYTES = "BYTES"
BF16 = "BF16"
_PREFIX = struct.Struct("<I")
# Wire dtype of each fixed-size datatype; BF16 travels as 16-bit words and is widened to float32 (numpy has no bf16).
WIRE_DTYPES: dict[str, np.dtype] = {
    name: d.numpy.newbyteorder("<") for name, d in BY_V2_NAME.items() if d.numpy is not None
}
WIRE_DTYPES[BF16] = np.dtype("<u2")
DATATYPES = (*sorted(WIRE_DTYPES), BYTES)


def check_datatype(datatype: object, what: str) -> str:
    """``datatype`` when it is one of the protocol's names, else InvalidInput listing them."""
    if not isinstance(datatype, str) or (datatype not in WIRE_DTYPES and datatype != BYTES):
        raise InvalidInput(f"{what}: datatype {datatype!r} is not supported; expected one of {list(DATATYPES)}")
    return datatype


def check_shape(shape: object, datatype: str, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[int, ...]:
    """``shape`` as a tuple once it is a list of non-negative ints whose data fits ``max_bytes``.

    BYTES elements take at least their 4-byte length prefix, so that is their budget size.
    """
    if not isinstance(shape, list) or any(type(d) is not int for d in shape):
        raise InvalidInput(f"{what}: shape must be a list of non-negative integers, got {str(shape)[:100]}")
    declared_bytes(shape, WIRE_DTYPES.get(datatype, np.dtype("<u4")), what, max_bytes)
    return tuple(shape)


def element_count(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def from_raw(buffer: bytes | memoryview, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """The array ``buffer`` holds (no copy for fixed-size types); InvalidInput when its size does not match the shape."""
    count = element_count(shape)
    if datatype == BYTES:
        return split_bytes(buffer, count, what).reshape(shape)
    wire = WIRE_DTYPES[datatype]
    expected = count * wire.itemsize
    if len(buffer) != expected:
        raise InvalidInput(
            f"{what}: {datatype} shape {list(shape)} needs {expected} bytes ({count} elements of {wire.itemsize}), "
            f"got {len(buffer)}"
        )
    array = np.frombuffer(buffer, dtype=wire).reshape(shape)
    if datatype == BF16:
        return (array.astype(np.uint32) << 16).view(np.float32)
    if datatype == "BOOL" and array.size and np.frombuffer(buffer, np.uint8).max() > 1:
        raise InvalidInput(f"{what}: BOOL elements must be the bytes 0 or 1")
    return array


def split_bytes(buffer: bytes | memoryview, count: int, what: str) -> np.ndarray:
    """``count`` length-prefixed elements as an object array of bytes; InvalidInput unless they fill ``buffer`` exactly."""
    view = memoryview(buffer).cast("B")
    items: list[bytes] = []
    offset, end = 0, len(view)
    for index in range(count):
        if offset + 4 > end:
            raise InvalidInput(f"{what}: BYTES element {index} of {count} is missing (the data ends at byte {end})")
        (length,) = _PREFIX.unpack_from(view, offset)
        offset += 4
        if offset + length > end:
            raise InvalidInput(f"{what}: BYTES element {index} says {length} bytes, but only {end - offset} remain")
        items.append(bytes(view[offset:offset + length]))
        offset += length
    if offset != end:
        raise InvalidInput(f"{what}: {end - offset} bytes are left after the {count} BYTES elements the shape holds")
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def datatype_of(array: np.ndarray) -> str:
    """The protocol's name for an output's element type: BYTES for strings."""
    if array.dtype.kind in "SUO":
        return BYTES
    known = BY_NUMPY.get(array.dtype.newbyteorder("=")) if array.dtype.byteorder not in "=|" else BY_NUMPY.get(array.dtype)
    if known is None or not known.v2_name:
        raise InvalidInput(f"the model's output type {array.dtype} has no KServe v2 datatype")
    return known.v2_name


def _as_bytes(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return str(item).encode()


def to_raw(array: np.ndarray) -> bytes | memoryview:
    """``array`` in the raw form: little-endian and row-major (a view when it already is), BYTES length-prefixed."""
    if array.dtype.kind in "SUO":
        return frame_bytes(array)
    wire = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    contiguous = np.ascontiguousarray(array, dtype=wire)
    return memoryview(contiguous).cast("B") if contiguous.size else b""


def frame_bytes(array: np.ndarray) -> bytes:
    """String elements as ``<u32 LE length><bytes>`` each, row-major; fixed-width numpy bytes keep no trailing zeros."""
    parts: list[bytes] = []
    for item in array.flat:
        data = _as_bytes(item)
        parts.append(_PREFIX.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
