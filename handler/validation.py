"""Checks a decoded request against a model signature: names, element types, shapes.

Type conversion follows one rule: convert only when no value changes. The one
exception is numbers a client wrote as plain numbers rather than a typed array
(JSON and CSV text, msgpack lists): ``0.1`` has no exact float32, so rounding
it to the tensor's precision is what every client expects. Only the decoders
of those formats ask for it (``rounding_allowed``), and they convert before the
arrays leave them; arrays from .npy, .npz, msgpack-numpy or TensorProto are
checked by ``prepare`` with the strict rule and never round. Anything else is
an ``InvalidInput`` naming both sides.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import InvalidInput
from .settings.values import Dim
from .signature import Signature, TensorSpec
from .tensors import BY_NUMPY, DType


def check_names(given: Mapping[str, object], signature: Signature) -> None:
    """Every input present, none unknown; messages list what the model expects."""
    expected = signature.input_names()
    unknown = [name for name in given if signature.input(name) is None]
    if unknown:
        raise InvalidInput(
            f"input tensor alias not found in signature: {unknown}. Inputs expected to be in the set {expected}"
        )
    missing = [name for name in expected if name not in given]
    if missing:
        raise InvalidInput(f"missing input tensors: {missing}. The model expects all of {expected}")


def _dim_fits(dim: Dim, size: int) -> bool:
    if isinstance(dim, tuple):
        return dim[0] <= size <= dim[1]
    return dim == -1 or dim == size


def shape_mismatch(spec: TensorSpec, shape: tuple[int, ...]) -> str | None:
    """Why ``shape`` does not fit ``spec``, or None when it fits."""
    if spec.shape is None:
        return None
    obtained = list(shape)
    if len(shape) != len(spec.shape):
        return (
            f"Invalid number of shape dimensions for input '{spec.name}'. "
            f"Obtained shape {obtained}, required shape {spec.shape_text()}"
        )
    wrong = [i for i, (dim, size) in enumerate(zip(spec.shape, shape, strict=True)) if not _dim_fits(dim, size)]
    if not wrong:
        return None
    if wrong == [0] and isinstance(spec.shape[0], int):
        return (
            f"Input batch size is incorrect for input '{spec.name}'. "
            f"Obtained batch size {shape[0]}, required batch size {spec.shape[0]}"
        )
    return f"Invalid input shape for '{spec.name}'. Obtained shape {obtained}, required shape {spec.shape_text()}"


def takes_images(spec: TensorSpec) -> bool:
    """Whether encoded images (bytes) may be sent for ``spec``: a numeric 4-D input, as OVMS decides.

    Their bytes pass the codecs' type and shape checks untouched; ``image_inputs`` decodes them in the engine
    and refuses what cannot be an image for this input (layout, channels, batch) with a message that says so.
    Strings for any other numeric input are refused here, as before.
    """
    return spec.dtype.numpy is not None and spec.shape is not None and len(spec.shape) == 4


def is_encoded(array: np.ndarray) -> bool:
    """Whether ``array`` holds bytes values (a codec's string tensor) rather than numbers."""
    return array.dtype == object or array.dtype.kind == "S"


def _type_error(spec: TensorSpec, got: str, why: str = "") -> InvalidInput:
    detail = f": {why}" if why else ""
    return InvalidInput(
        f"Invalid data type for input '{spec.name}'. Obtained {got}, required {spec.dtype.tf_name} "
        f"({spec.dtype.ov_name}){detail}"
    )


def _describe(array: np.ndarray) -> str:
    known = BY_NUMPY.get(array.dtype)
    if known is not None:
        return f"{known.tf_name} ({known.ov_name})"
    if array.dtype.kind in "US":
        return "strings"
    return f"values of type {array.dtype.name}"


def convert(spec: TensorSpec, array: np.ndarray, rounding_allowed: bool = False) -> np.ndarray:
    """``array`` as ``spec``'s element type, or InvalidInput when a value would change.

    ``rounding_allowed``: floats may round to a float input's precision (never
    overflow to infinity); only for numbers that were text or plain lists.
    """
    target: DType = spec.dtype
    if target.is_string:
        if array.dtype.kind in "SU":
            return array
        if array.dtype == object and all(isinstance(item, bytes) for item in array.flat):
            # OpenVINO takes fixed-width numpy bytes, which cannot keep a trailing zero byte.
            if any(item.endswith(b"\x00") for item in array.flat):
                raise _type_error(spec, "strings", "a value ends in a zero byte, which string tensors cannot carry")
            return array.astype(np.bytes_)
        raise _type_error(spec, _describe(array), "send strings (or {\"b64\": ...} values in JSON)")
    want = target.numpy
    assert want is not None
    if array.dtype == want:
        return array
    kind = array.dtype.kind
    if kind in "SO" and takes_images(spec):
        return array  # encoded images: image_inputs decodes them to this type in the engine
    if kind in "SUO":
        raise _type_error(spec, _describe(array), "numbers expected, strings are not converted")
    if kind not in "biuf":  # dates, durations, complex, void: numpy would cast some of them silently, others not at all
        raise _type_error(spec, _describe(array), "booleans, integers or real numbers expected")
    if want.kind == "b":
        if kind in "iu" and np.all((array == 0) | (array == 1)):
            return array.astype(want)
        raise _type_error(spec, _describe(array), "only true/false (or 0/1) fit a boolean input")
    if kind == "b":
        raise _type_error(spec, _describe(array), "booleans are not converted to numbers")
    if want.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            converted = array.astype(want)
        if kind == "f" and rounding_allowed:
            if not np.all(np.isfinite(converted) | ~np.isfinite(array)):
                raise _type_error(spec, _describe(array), f"a value is out of the range of {target.ov_name}")
            return converted
        if np.array_equal(converted.astype(array.dtype), array, equal_nan=kind == "f"):
            return converted
        raise _type_error(spec, _describe(array), "converting would change values")
    # integer target
    info = np.iinfo(want)
    outside = _type_error(spec, _describe(array), f"values outside [{info.min}, {info.max}]")
    if kind == "f":
        if not np.all(np.isfinite(array) & (np.floor(array) == array)):
            raise _type_error(spec, _describe(array), "integers expected, got fractional or non-finite values")
        # max + 1 is a power of two, exact as a float; max itself may round up to it.
        if array.size and (array.min() < float(info.min) or array.max() >= float(info.max) + 1):
            raise outside
    elif array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
        raise outside
    return array.astype(want)


def prepare(arrays: Mapping[str, np.ndarray], signature: Signature) -> dict[str, np.ndarray]:
    """Names and element types checked; returns the arrays converted for inference.

    Strict: a value that would change is refused. Decoders that may round (JSON,
    CSV) have converted already, so their arrays pass through unchanged.
    """
    check_names(arrays, signature)
    ready: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        spec = signature.input(name)
        assert spec is not None
        ready[name] = convert(spec, array)
    return ready


def first_shape_problem(arrays: Mapping[str, np.ndarray], signature: Signature) -> str | None:
    """The first input whose shape does not fit, described; None when all fit."""
    for name, array in arrays.items():
        spec = signature.input(name)
        if spec is not None:
            problem = shape_mismatch(spec, array.shape)
            if problem:
                return problem
    return None
