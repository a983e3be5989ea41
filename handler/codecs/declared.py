"""What a binary body declares about an array (dtype, shape), checked before anything is allocated.

npy, npz and msgpack-numpy bodies carry a dtype string and a shape next to
the raw bytes. A byte count alone is not enough: a shape with a zero in it
has no elements however large its other dimensions (``[0, 2**62, 2**62]``),
and a dtype such as ``|S0`` has no bytes per element, so ``10**12`` elements
match an empty body. numpy then refuses them in ``frombuffer`` or ``reshape``
with errors that would surface as 500s. Every dimension, and the product of
the non-zero ones, must fit the byte budget, and only element types a model
can take (booleans, integers, floats, strings) get through.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput

MAX_RANK = 32  # numpy's iterators (and so .flat, np.char) stop at 32 dimensions
_KINDS = {"b": "boolean", "i": "integer", "u": "integer", "f": "float", "S": "bytes", "U": "string"}
_NAMED = {"M": "dates (datetime64) are not numbers", "m": "durations (timedelta64) are not numbers",
          "c": "complex numbers have no OpenVINO element type", "V": "raw void records have no element type"}
EXPECTED_DTYPES = "expected a boolean, integer, float or string dtype such as '<f4'"


def check_dtype(dtype: np.dtype, what: str) -> None:
    """InvalidInput unless ``dtype`` is a plain element type with a non-zero size, named in the message."""
    shown = f"{dtype.str!r} ({dtype.name})"
    if dtype.hasobject:
        raise InvalidInput(f"{what}: dtype {shown} holds Python objects and is not accepted (no pickles); {EXPECTED_DTYPES}")
    if dtype.names is not None or dtype.subdtype is not None:
        raise InvalidInput(f"{what}: dtype {shown} is structured and is not accepted; {EXPECTED_DTYPES}")
    if dtype.kind not in _KINDS:
        reason = _NAMED.get(dtype.kind, "not a numeric type")
        raise InvalidInput(f"{what}: dtype {shown} is not accepted: {reason}; {EXPECTED_DTYPES}")
    if dtype.itemsize == 0:
        raise InvalidInput(
            f"{what}: dtype {shown} has elements of zero bytes; expected a width of at least one, such as '|S8' or '<U8'"
        )


def declared_bytes(shape: tuple[int, ...] | list[int], dtype: np.dtype, what: str, max_bytes: int) -> int:
    """Bytes ``shape`` of ``dtype`` holds; InvalidInput when any dimension or their product is beyond ``max_bytes``.

    Zero-length dimensions count as one for the budget: ``[0, 2**40, 2**40]``
    holds no data, but numpy cannot represent it and no model takes it.
    """
    dims = list(shape)
    if len(dims) > MAX_RANK:
        raise InvalidInput(f"{what}: shape has {len(dims)} dimensions; expected at most {MAX_RANK}")
    if any(type(d) is not int and not isinstance(d, np.integer) for d in dims) or any(d < 0 for d in dims):
        raise InvalidInput(f"{what}: shape {dims[:MAX_RANK]} must be a list of non-negative integers")
    per_dimension = max_bytes // dtype.itemsize
    for index, dim in enumerate(dims):
        if dim > per_dimension:
            raise InvalidInput(
                f"{what}: shape {dims} of {dtype} is too large: dimension {index} is {dim}; expected at most "
                f"{per_dimension} ({max_bytes} bytes of {dtype.itemsize}-byte elements)"
            )
    count, span = 1, 1
    for dim in dims:
        count *= dim
        span *= max(dim, 1)
    nbytes = count * dtype.itemsize
    if nbytes > max_bytes:
        raise InvalidInput(f"{what}: shape {dims} of {dtype} is too large ({nbytes} bytes); expected at most {max_bytes}")
    if span > max(per_dimension, 1):  # only an empty array gets here: its non-zero dimensions alone are beyond the budget
        raise InvalidInput(
            f"{what}: shape {dims} of {dtype} is too large: its dimensions other than 0 multiply to {span} elements; "
            f"expected at most {per_dimension} (even an empty array must have a shape that could fit {max_bytes} bytes)"
        )
    return nbytes
