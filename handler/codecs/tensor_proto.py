"""numpy <-> ``tensorflow.TensorProto``, checked before anything is allocated.

Decoding reads ``tensor_content`` with ``np.frombuffer`` (no copy beyond the
bytes protobuf hands over) or the typed ``*_val`` list that matches the
dtype (``half_val`` carries fp16 bit patterns, ``string_val`` bytes). The
declared shape is validated first: no negative sizes, no element count whose
bytes exceed the limit (strings counted at what a string tensor really costs,
even an empty tensor's other dimensions bounded), and content whose length
matches the shape exactly. Given the model's input, the type and shape are
checked against it too, still before a single value fills its shape.
Encoding writes numbers as ``tensor_content`` and strings as ``string_val``,
which is what TensorFlow's ``make_ndarray`` and ovmsclient read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import offload
from ..errors import InvalidInput
from ..protos import tensor_pb2
from ..signature import TensorSpec
from ..tensors import BY_NUMPY, BY_TF_ENUM, DType
from ..validation import convert, shape_mismatch, takes_images
from .limits import DEFAULT_MAX_BYTES, STRING_ELEMENT_OVERHEAD

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


def _element_bytes(dtype: DType, values: Any, spec: TensorSpec | None) -> int:
    """What one element will really cost once decoded (and converted to ``spec``'s type).

    A string costs its longest value's length (numpy keeps fixed-width bytes) plus
    ``STRING_ELEMENT_OVERHEAD`` for OpenVINO's per-element string, not one byte.
    """
    if dtype.numpy is None:
        longest = max((len(value) for value in values), default=0)
        return longest + STRING_ELEMENT_OVERHEAD
    target = spec.dtype.numpy if spec is not None and spec.dtype.numpy is not None else dtype.numpy
    return max(dtype.numpy.itemsize, target.itemsize)


def _check_size(name: str, dims: tuple[int, ...], dtype: DType, count: int, unit: int, max_bytes: int) -> None:
    if count * unit > max_bytes:
        raise InvalidInput(
            f"input '{name}': shape {list(dims)} declares {count} elements of {dtype.tf_name}, "
            f"more than the {max_bytes} bytes a request may carry"
        )
    if count:
        return
    nonzero = 1  # an empty tensor allocates nothing, but numpy still refuses sizes whose product overflows
    for position, size in enumerate(dims):
        nonzero *= max(size, 1)
        if nonzero * unit > max_bytes:
            raise InvalidInput(
                f"input '{name}': dimension {position} of shape {list(dims)} is {size}; with the zero dimension the "
                f"tensor is empty, but the other sizes must still multiply to at most {max_bytes} bytes of {dtype.tf_name}"
            )


def _check_against(spec: TensorSpec, dtype: DType, dims: tuple[int, ...], check_shape: bool) -> None:
    """Refuse, before anything is expanded, a type that no value could convert from and a shape that cannot fit.

    Converting an empty array of the wire type raises exactly what converting the
    values would for type pairs that never convert (strings into numbers, booleans
    into floats...), with the same message; value-dependent cases pass and are
    checked on the values.
    """
    if spec.dtype is not dtype:
        convert(spec, np.empty(0, dtype=dtype.numpy if dtype.numpy is not None else object))
    images = dtype.is_string and takes_images(spec)  # [N] encoded images for an [N, H, W, C] input
    problem = shape_mismatch(spec, dims) if check_shape and not images else None
    if problem:
        raise InvalidInput(problem)


def to_array(
    name: str, proto: Any, max_bytes: int = DEFAULT_MAX_BYTES, spec: TensorSpec | None = None, check_shape: bool = True
) -> np.ndarray:
    """The tensor as a numpy array; InvalidInput (naming ``name``) for anything inconsistent.

    With ``spec`` (the model's input), the type and shape are checked against it
    before anything is expanded, the size limit counts the converted type, and the
    array comes back already converted; ``check_shape`` False leaves the shape to
    models that recompile for the shapes requests bring. ``tensor_content`` already
    in the model's type expands to nothing: it comes back as a view, and its shape
    is checked in ``ServedModel.infer`` like every other codec's.
    """
    dtype = BY_TF_ENUM.get(proto.dtype)
    if dtype is None:
        raise InvalidInput(
            f"input '{name}': {_type_name(proto.dtype)} is not supported; "
            "expected a numeric, boolean or string tensor"
        )
    dims = _declared_shape(name, proto)
    count = math.prod(dims)
    content = proto.tensor_content
    values = () if content else getattr(proto, _VALUE_FIELD[proto.dtype])
    _check_size(name, dims, dtype, count, _element_bytes(dtype, values, spec), max_bytes)
    if content:
        if dtype.numpy is None:
            raise InvalidInput(f"input '{name}': DT_STRING tensors carry string_val, not tensor_content")
        if len(content) != count * dtype.numpy.itemsize:
            raise InvalidInput(
                f"input '{name}': tensor_content holds {len(content)} bytes but shape {list(dims)} "
                f"of {dtype.tf_name} needs {count * dtype.numpy.itemsize}"
            )
    else:
        given = len(values)
        if given not in (count, 1) or (given == 1 and count == 0):
            raise InvalidInput(
                f"input '{name}': {_VALUE_FIELD[proto.dtype]} holds {given} values but shape {list(dims)} needs {count}"
            )
    if content:
        array = np.frombuffer(content, dtype=dtype.numpy.newbyteorder("<")).reshape(dims)  # type: ignore[union-attr]
        if spec is None or spec.dtype is dtype:
            # A view of bytes already present, in the model's type: nothing expands, and the shape is checked with
            # every other codec's in ServedModel.infer. Checking it here too cost the hot gRPC path ~5 us a request.
            return array
        _check_against(spec, dtype, dims, check_shape)
        return convert(spec, array)
    if spec is not None:
        _check_against(spec, dtype, dims, check_shape)
    array = _typed_values(name, proto.dtype, dtype, values)
    if spec is not None:
        array = convert(spec, array)  # one value when filling: converted once, then repeated in the model's type
    if len(values) == 1 and count != 1:
        return np.full(dims, array[0], dtype=array.dtype)  # TensorFlow fills the shape with a single value
    return array.reshape(dims)


def _typed_values(name: str, number: int, dtype: DType, values: Any) -> np.ndarray:
    """A typed ``*_val`` list as a flat array of the wire type, range-checked."""
    given = len(values)
    if dtype.is_string:
        array = np.empty(given, dtype=object)
        array[:] = list(values)
        return array
    if number == 19:  # half_val: fp16 bit patterns widened to int32
        wide = np.asarray(values, dtype=np.int64)
        if given and (wide.min() < 0 or wide.max() > 0xFFFF):
            raise InvalidInput(f"input '{name}': half_val entries must be 16-bit patterns (0..65535)")
        return wide.astype(np.uint16).view(np.float16)
    array = np.asarray(values)
    assert dtype.numpy is not None
    if dtype.numpy.kind in "iu" and given:
        info = np.iinfo(dtype.numpy)
        if array.min() < info.min or array.max() > info.max:
            raise InvalidInput(f"input '{name}': values outside the range of {dtype.tf_name}")
    return array.astype(dtype.numpy, copy=False)


def decode_work(proto: Any) -> int:
    """A quick estimate of what decoding ``proto`` costs (for choosing a worker thread); never raises.

    Content is viewed in place, so it weighs ``offload.raw_work`` of its length;
    typed values may fill their shape, counted at 8 bytes (the widest number)
    per declared element.
    """
    content = len(proto.tensor_content)
    if content:
        return offload.raw_work(content)
    count = 1
    for dim in proto.tensor_shape.dim:
        count *= max(dim.size, 0)
    return count * (STRING_ELEMENT_OVERHEAD if proto.dtype == tensor_pb2.DT_STRING else 8)


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
