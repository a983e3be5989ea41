"""KServe v2 infer requests and answers as JSON: the header of every v2 REST body, binary or not.

``parse_request`` checks the structure (inputs, outputs, parameters) without
knowing the model; ``V2Arrays`` builds the arrays once the signature is known,
checking each input's name and datatype against it and its declared shape ×
datatype against the data present before anything is allocated. JSON numbers
are rounded to the input's precision (as TF Serving JSON is); raw bytes
(``binary`` slices from ``v2_binary``) are taken exactly. ``encode_response``
writes the answer's JSON, leaving binary outputs' bytes to the caller.

Bodies of ``json_numbers.LARGE_BODY`` or more are parsed by simdjson, each
input's numeric ``data`` copied into a typed array in C (a ResNet-50 image is
150,528 numbers: as Python floats they cost more than the inference); any
input the fast path cannot prove identical to the strict one (strings,
booleans, nulls, empty or out-of-range data) is handed to the strict path as
the same Python values orjson would give, and a body simdjson refuses is
parsed by orjson, so answers and messages never depend on the body's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInput
from ..signature import Signature, TensorSpec
from ..validation import check_names, convert
from . import json_numbers, v2_tensors
from .v2_tensors import BYTES

_UNSUPPORTED_PARAMETERS = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


@dataclass(frozen=True)
class V2Input:
    """One request input: ``data`` (JSON) or ``binary_size`` bytes of the body's binary part, never both.

    ``data`` is the JSON value as Python objects, or, from a large body, the
    flattened numeric array that value stands for (``json_numbers.leaves``).
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any = None
    binary_size: int | None = None


@dataclass(frozen=True)
class V2Request:
    """A structurally valid infer request; ``outputs`` None means every output."""

    inputs: list[V2Input]
    outputs: list[str] | None
    binary_outputs: dict[str, bool]  # output name -> its own binary_data parameter
    binary_default: bool  # binary_data_output: the default for outputs without their own
    request_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # The body's own model_name / model_version, unchecked: only SageMaker's /invocations reads them (sagemaker_v2),
    # as the v2 REST path names both in its URL. Kept here so nobody parses a large body twice to find them.
    model_name: Any = None
    model_version: Any = None

    def wants_binary(self, output: str) -> bool:
        return self.binary_outputs.get(output, self.binary_default)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _parameters(item: dict[str, Any], what: str) -> dict[str, Any]:
    parameters = _object(item.get("parameters", {}), f"{what} parameters")
    for key in _UNSUPPORTED_PARAMETERS:
        if key in parameters:
            raise InvalidInput(f"{what}: shared memory ({key!r}) is not supported by this server; send the data in the body")
    return parameters


def _binary_flag(parameters: dict[str, Any], key: str, what: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{what}: parameter {key!r} must be true or false, got {value!r}")
    return value


def _input(item: Any, index: int, max_bytes: int) -> V2Input:
    what = f"input {index}"
    item = _object(item, what)
    name = item.get("name")
    if not isinstance(name, str):
        raise InvalidInput(f'{what} has no "name" string')
    what = f"input '{name}'"
    datatype = v2_tensors.check_datatype(item.get("datatype"), what)
    if "shape" not in item:
        raise InvalidInput(f'{what} has no "shape"')
    shape = v2_tensors.check_shape(item["shape"], datatype, what, max_bytes)
    parameters = _parameters(item, what)
    size = parameters.get("binary_data_size")
    has_data = "data" in item
    if size is not None and (type(size) is not int or size < 0):
        raise InvalidInput(f"{what}: binary_data_size must be a non-negative integer, got {size!r}")
    if has_data == (size is not None):
        raise InvalidInput(f'{what} must carry exactly one of "data" or parameters.binary_data_size')
    return V2Input(name, datatype, shape, _data(item.get("data"), datatype), size)


def _data(value: Any, datatype: str) -> Any:
    """A lazy ``data`` array as numbers in one C step when it plainly is numbers, else as the Python values orjson gives."""
    if not json_numbers.is_lazy(value):
        return value
    if datatype != BYTES and (numbers := json_numbers.leaves(value)) is not None:
        return numbers
    return json_numbers.as_list(value)


def _document(header: bytes | memoryview) -> tuple[Any, Any]:
    """(document, the simdjson parser its lazy ``data`` arrays need alive, or None when orjson parsed it)."""
    if len(header) >= json_numbers.LARGE_BODY and (loaded := json_numbers.load_tensors(header)) is not None:
        return loaded
    try:
        return orjson.loads(header), None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"infer request is not valid JSON ({exc}); expected an object with \"inputs\"") from None


def parse_request(header: bytes | memoryview, max_bytes: int = v2_tensors.DEFAULT_MAX_BYTES) -> V2Request:
    """Check an infer request's JSON; InvalidInput names the first problem and what was expected."""
    document, keepalive = _document(header)
    request = _request(document, max_bytes)
    del keepalive  # every lazy array is numbers or Python values by now
    return request


def _request(document: Any, max_bytes: int) -> V2Request:
    document = _object(document, "infer request")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput('infer request needs "inputs": a non-empty list of {"name", "shape", "datatype", "data"}')
    parsed = [_input(item, index, max_bytes) for index, item in enumerate(inputs)]
    names = [i.name for i in parsed]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(f"inputs {duplicated} are given more than once")
    parameters = _parameters(document, "infer request")
    default = _binary_flag(parameters, "binary_data_output", "infer request") or False
    outputs, flags = None, {}
    if document.get("outputs") is not None:
        listed = document["outputs"]
        if not isinstance(listed, list):
            raise InvalidInput('"outputs" must be a list of {"name", "parameters"}')
        outputs = []
        for index, item in enumerate(listed):
            item = _object(item, f"output {index}")
            name = item.get("name")
            if not isinstance(name, str):
                raise InvalidInput(f'output {index} has no "name" string')
            out_parameters = _parameters(item, f"output '{name}'")
            if "classification" in out_parameters:
                raise InvalidInput(f"output '{name}': the classification extension is not supported by this server")
            flag = _binary_flag(out_parameters, "binary_data", f"output '{name}'")
            if flag is not None:
                flags[name] = flag
            outputs.append(name)
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f'"id" must be a string, got {type(request_id).__name__}')
    return V2Request(parsed, outputs, flags, default, request_id, parameters,
                     document.get("model_name"), document.get("model_version"))


def _flat(data: Any, what: str) -> list[Any]:
    """The leaves of ``data`` in row-major order, however ragged; iterative, as JSON may nest 1024 levels (no RecursionError)."""
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(item, list) for item in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _numeric(data: Any) -> np.ndarray | None:
    """numpy's C conversion of rectangular numeric ``data``, or None when anything needs the strict path below.

    Walking 150,528 Python floats one ``isinstance`` at a time cost a ResNet-50
    image 60 % of its server time (bench/RESULTS.md); numpy checks the same in C.
    Ragged nesting, strings, nulls and integers beyond 64 bits fall through to
    the element-wise path, which names the problem.
    """
    try:
        array = np.array(data)
    except (ValueError, OverflowError, TypeError):
        return None
    return array if array.dtype.kind in "biuf" else None


def json_array(data: Any, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """JSON ``data`` (flat or nested row-major) as an array of ``shape``; InvalidInput when the count or values differ."""
    count = v2_tensors.element_count(shape)
    if isinstance(data, np.ndarray):  # already flat numbers, from a large body (parse_request)
        if data.size != count:
            raise InvalidInput(f"{what}: shape {list(shape)} holds {count} elements, but data has {data.size}")
        return data.reshape(shape)
    if datatype != BYTES and (fast := _numeric(data)) is not None:
        if fast.size != count:
            raise InvalidInput(f"{what}: shape {list(shape)} holds {count} elements, but data has {fast.size}")
        return fast.reshape(shape)
    values = _flat(data, what)
    if len(values) != count:
        raise InvalidInput(f"{what}: shape {list(shape)} holds {count} elements, but data has {len(values)}")
    if datatype == BYTES:
        if not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"{what}: BYTES data must be strings")
        array = np.empty(count, dtype=object)
        array[:] = [v.encode() for v in values]
        return array.reshape(shape)
    if any(not isinstance(v, int | float) for v in values):  # bool is an int
        raise InvalidInput(f"{what}: {datatype} data must be numbers{' or true/false' if datatype == 'BOOL' else ''}")
    try:
        array = np.array(values)
    except OverflowError:
        raise InvalidInput(f"{what}: a value is out of the range of {datatype}") from None
    if array.dtype == object:
        raise InvalidInput(f"{what}: a value is out of the range of {datatype}")
    return array.reshape(shape)


class V2Arrays:
    """The arrays builder ``Engine.predict`` calls with the chosen version's signature."""

    def __init__(self, request: V2Request, blobs: Mapping[str, memoryview]) -> None:
        self.request = request
        self.blobs = blobs  # input name -> its raw bytes, for binary inputs

    def __call__(self, signature: Signature) -> dict[str, np.ndarray]:
        check_names({i.name: None for i in self.request.inputs}, signature)
        return {item.name: self._array(item, signature.input(item.name)) for item in self.request.inputs}  # type: ignore[arg-type]

    def _array(self, item: V2Input, spec: TensorSpec) -> np.ndarray:
        what = f"input '{item.name}'"
        # A declared datatype other than the model's is converted when no value changes (INT32 into FP32), exactly as
        # on gRPC v2 and the TF Serving API, and refused otherwise with the same message (validation.convert).
        if item.binary_size is None:
            return convert(spec, json_array(item.data, item.datatype, item.shape, what), rounding_allowed=True)
        array = v2_tensors.from_raw(self.blobs[item.name], item.datatype, item.shape, what)
        return convert(spec, array)


def _json_data(array: np.ndarray, name: str) -> Any:
    flat = array.reshape(-1)
    if flat.dtype.kind in "SUO":
        try:
            return [item.decode() if isinstance(item, bytes) else str(item) for item in flat]
        except UnicodeDecodeError:
            raise InvalidInput(f"output '{name}' holds bytes that are not UTF-8; ask for it with binary_data") from None
    return flat


def encode_response(
    model: str, version: str, request: V2Request, outputs: Mapping[str, np.ndarray]
) -> tuple[bytes, list[bytes | memoryview]]:
    """The answer's JSON and the raw bytes of its binary outputs, in the order the JSON lists them."""
    listed: list[dict[str, Any]] = []
    blobs: list[bytes | memoryview] = []
    for name, array in outputs.items():
        entry: dict[str, Any] = {"name": name, "datatype": v2_tensors.datatype_of(array), "shape": list(array.shape)}
        if request.wants_binary(name):
            raw = v2_tensors.to_raw(array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = _json_data(array, name)
        listed.append(entry)
    answer: dict[str, Any] = {"model_name": model, "model_version": version}
    if request.request_id is not None:
        answer["id"] = request.request_id
    answer["outputs"] = listed
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), blobs
