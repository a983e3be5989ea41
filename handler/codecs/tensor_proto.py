"""numpy <-> ``tensorflow.TensorProto``, checked before anything is allocated.

Decoding reads ``tensor_content`` with ``np.frombuffer`` (no copy beyond the
bytes protobuf hands over) or the typed ``*_val`` list that matches the
dtype (``half_val`` carries fp16 bit patterns, ``string_val`` bytes). The
declared shape is validated first: no negative sizes, no element count whose
bytes exceed the limit, and content whose length matches the shape exactly.
Encoding writes numbers as ``tensor_content`` and strings as ``string_val``,
which is what TensorFlow's ``make_ndarray`` and ovmsclient read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..protos import tensor_pb2
from ..tensors import BY_NUMPY, BY_TF_ENUM
from .limits import DEFAULT_MAX_BYTES

# The typed value field TensorFlow uses for each dtype (by TF enum number).
_VALUE_FIELD = {
    1: "float_val",
    2: "double_val",
    3: "int_val",
    4: "int_val",
    5: "int_val",
    6: "int_val",
    7: "string_val",
    9: "int64_val",
    10: "bool_val",
    17: "int_val",
    19: "half_val",
    22: "uint32_val",
    23: "uint64_val",
}


def _type_name(number: int) -> str:
    try:
        return tensor_pb2.DataType.Name(number)
    except ValueError:
        return f"data type number {number}"


def _declared_shape(name: str, proto: Any) -> tuple[int, ...]:
    shape = proto.tensor_shape
    if shape.unknown_rank:
        raise InvalidInput(f"input '{name}': tensor_shape has unknown rank; expected every dimension's size")
    dims = tuple(dim.size for dim in shape.dim)
    if len(dims) > 32:
        raise InvalidInput(f"input '{name}': {len(dims)} dimensions; at most 32 are supported")
    negative = [size for size in dims if size < 0]
    if negative:
        raise InvalidInput(f"input '{name}': tensor_shape has negative dimension {negative[0]}; sizes must be >= 0")
    return dims


def to_array(name: str, proto: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """The tensor as a numpy array; InvalidInput (naming ``name``) for anything inconsistent."""
    dtype = BY_TF_ENUM.get(proto.dtype)
    if dtype is None:
        raise InvalidInput(
            f"input '{name}': {_type_name(proto.dtype)} is not supported; "
            "expected a numeric, boolean or string tensor"
        )
    dims = _declared_shape(name, proto)
    count = 1
    for size in dims:
        count *= size
    itemsize = dtype.numpy.itemsize if dtype.numpy is not None else 1
    if count * itemsize > max_bytes:
        raise InvalidInput(
            f"input '{name}': shape {list(dims)} declares {count} elements of {dtype.tf_name}, "
            f"more than the {max_bytes} bytes a request may carry"
        )
    content = proto.tensor_content
    if content:
        if dtype.numpy is None:
            raise InvalidInput(f"input '{name}': DT_STRING tensors carry string_val, not tensor_content")
        if len(content) != count * itemsize:
            raise InvalidInput(
                f"input '{name}': tensor_content holds {len(content)} bytes but shape {list(dims)} "
                f"of {dtype.tf_name} needs {count * itemsize}"
            )
        return np.frombuffer(content, dtype=dtype.numpy.newbyteorder("<")).reshape(dims)
    values = getattr(proto, _VALUE_FIELD[proto.dtype])
    given = len(values)
    if given not in (count, 1) or (given == 1 and count == 0):
        raise InvalidInput(
            f"input '{name}': {_VALUE_FIELD[proto.dtype]} holds {given} values but shape {list(dims)} needs {count}"
        )
    if dtype.is_string:
        array = np.array(list(values), dtype=object)
    elif proto.dtype == 19:  # half_val: fp16 bit patterns widened to int32
        array = np.asarray(values, dtype=np.int64)
        if given and (array.min() < 0 or array.max() > 0xFFFF):
            raise InvalidInput(f"input '{name}': half_val entries must be 16-bit patterns (0..65535)")
        array = array.astype(np.uint16).view(np.float16)
    else:
        array = np.asarray(values)
        if dtype.numpy.kind in "iu" and given:
            info = np.iinfo(dtype.numpy)
            if array.min() < info.min or array.max() > info.max:
                raise InvalidInput(f"input '{name}': values outside the range of {dtype.tf_name}")
        array = array.astype(dtype.numpy, copy=False)
    if given == 1 and count != 1:
        return np.full(dims, array[0], dtype=array.dtype)  # TensorFlow fills the shape with a single value
    return array.reshape(dims)


def fill(proto: Any, array: np.ndarray) -> None:
    """Write ``array`` into ``proto`` (a TensorProto, typically a map entry of a response)."""
    proto.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in array.shape])
    if array.dtype.kind in "USO":
        proto.dtype = tensor_pb2.DT_STRING
        proto.string_val.extend(
            item if isinstance(item, bytes) else str(item).encode("utf-8") for item in array.reshape(-1)
        )
        return
    dtype = BY_NUMPY.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise InvalidInput(f"output of type {array.dtype} cannot be sent as a TensorProto")
    proto.dtype = dtype.tf_enum
    proto.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
