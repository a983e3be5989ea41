"""KServe v2 gRPC messages (``inference.*``) <-> the engine's terms: names, versions, arrays, signatures.

The gRPC server parses bytes into our generated messages (private descriptor
pool) and hands them here. Inputs come typed (``contents``) or raw
(``raw_input_contents``), leniently as MLServer reads them: raw entries go, in
order, to the inputs that carry no contents, because the kserve client mixes
both forms in one request. Every declared shape is checked against the data
actually present before anything is allocated (``v2_tensors``). Answers are
always raw, in ``outputs`` order: tritonclient reads nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import json_format

from .. import offload, versions
from ..errors import InvalidInput
from ..protos import grpc_service_pb2 as pb
from ..signature import Signature, TensorSpec
from ..status import AVAILABLE, VersionStatus
from ..validation import check_names, convert, shape_mismatch, takes_images
from . import v2_metadata, v2_tensors
from .limits import DEFAULT_MAX_BYTES

# The typed field each datatype's values travel in; FP16 and BF16 have none (raw only).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_ALL_FIELDS = tuple(sorted(set(CONTENTS_FIELD.values())))
# Parameters that ask for something ovserve does not do: refused by name rather than silently ignored.
_UNSUPPORTED_INPUT_PARAMETERS = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")
_UNSUPPORTED_OUTPUT_PARAMETERS = ("classification", *_UNSUPPORTED_INPUT_PARAMETERS)


def model_name(name: str) -> str:
    """The model a request names; an empty name is a malformed request, not an unknown model."""
    if not name:
        raise InvalidInput("the model name is empty; expected the name of a served model")
    return name


def requested_version(text: str) -> int | None:
    """A v2 version string: "" (and "0") the default, digits that version, anything else NOT_FOUND."""
    return None if text == "" else versions.from_text(text)


def _refuse_parameters(parameters: Any, refused: tuple[str, ...], what: str) -> None:
    for key in refused:
        if key in parameters:
            raise InvalidInput(f"{what}: parameter {key!r} is not supported by ovserve (no shared memory, no classification)")


def _array_dtype(datatype: str) -> np.dtype:
    """The dtype a datatype decodes to before conversion: BYTES as objects, BF16 widened to float32."""
    if datatype == v2_tensors.BYTES:
        return np.dtype(object)
    if datatype == v2_tensors.BF16:
        return np.dtype(np.float32)
    return v2_tensors.WIRE_DTYPES[datatype].newbyteorder("=")


def _check_type(spec: TensorSpec, decoded: np.dtype, dims: tuple[int, ...], check_shape: bool) -> None:
    """Refuse, before any value is read, a datatype the input cannot take and a shape that cannot fit.

    Converting an empty array raises exactly what converting the values would
    for pairs that never convert (BYTES into numbers, BOOL into floats), with
    the message every transport shares.
    """
    same = spec.dtype.is_string if decoded.kind == "O" else spec.dtype.numpy == decoded
    if not same:
        convert(spec, np.empty(0, dtype=decoded))
    images = decoded.kind == "O" and takes_images(spec)  # [N] encoded images for an [N, H, W, C] input
    problem = shape_mismatch(spec, dims) if check_shape and not images else None
    if problem:
        raise InvalidInput(problem)


def _typed_array(what: str, tensor: Any, datatype: str, count: int) -> np.ndarray:
    """The values of ``contents`` as a flat array of the wire type; exactly one field, holding ``count`` values."""
    contents = tensor.contents
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"{what}: {datatype} has no typed contents field; send it in raw_input_contents")
    stray = [name for name in _ALL_FIELDS if name != field and len(getattr(contents, name))]
    if stray:
        raise InvalidInput(f"{what}: datatype {datatype} carries its values in {field}, but {stray[0]} is set")
    values = getattr(contents, field)
    if len(values) != count:
        raise InvalidInput(f"{what}: {field} holds {len(values)} values but shape {list(tensor.shape)} needs {count}")
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array
    wire = v2_tensors.WIRE_DTYPES[datatype]
    wide = np.asarray(values)
    if wire.kind in "iu" and count and wide.dtype != wire:
        info = np.iinfo(wire)
        if int(wide.min()) < info.min or int(wide.max()) > info.max:
            raise InvalidInput(f"{what}: values outside the range of {datatype} [{info.min}, {info.max}]")
    return wide.astype(wire.newbyteorder("="), copy=False)


def _assign_raw(request: Any) -> list[bytes | None]:
    """Each input's raw entry, or None for inputs with typed contents (raw entries taken in order, as MLServer does)."""
    raw = request.raw_input_contents
    assigned: list[bytes | None] = []
    taken = 0
    for tensor in request.inputs:
        if tensor.HasField("contents"):
            assigned.append(None)
            continue
        if taken == len(raw):
            raise InvalidInput(
                f"input '{tensor.name}' has no contents and no raw_input_contents entry is left for it "
                f"({len(raw)} raw entries for {len(request.inputs)} inputs)"
            )
        assigned.append(raw[taken])
        taken += 1
    if taken != len(raw):
        raise InvalidInput(
            f"{len(raw)} raw_input_contents entries but only {taken} inputs without contents to take them"
        )
    return assigned


def request_arrays(
    request: Any, signature: Signature, max_bytes: int = DEFAULT_MAX_BYTES, check_shapes: bool = True
) -> dict[str, np.ndarray]:
    """Every input of a ModelInferRequest as an array in the model's type, checked before it is allocated."""
    if not request.inputs:
        raise InvalidInput("the request has no inputs; expected one InferInputTensor per model input")
    names = [tensor.name for tensor in request.inputs]
    if len(set(names)) != len(names):
        raise InvalidInput(f"input names repeat: {names}; each input is sent once")
    check_names(dict.fromkeys(names), signature)
    arrays: dict[str, np.ndarray] = {}
    for tensor, raw in zip(request.inputs, _assign_raw(request), strict=True):
        what = f"input '{tensor.name}'"
        _refuse_parameters(tensor.parameters, _UNSUPPORTED_INPUT_PARAMETERS, what)
        datatype = v2_tensors.check_datatype(tensor.datatype, what)
        dims = v2_tensors.check_shape(list(tensor.shape), datatype, what, max_bytes)
        spec = signature.input(tensor.name)
        assert spec is not None
        _check_type(spec, _array_dtype(datatype), dims, check_shapes)
        if raw is not None:
            array = v2_tensors.from_raw(raw, datatype, dims, what)
        else:
            array = _typed_array(what, tensor, datatype, v2_tensors.element_count(dims)).reshape(dims)
        arrays[tensor.name] = array if spec.dtype.numpy is not None and array.dtype == spec.dtype.numpy else convert(spec, array)
    return arrays


class InferArrays:
    """The engine's array builder for a ModelInferRequest: decoding waits for the model's signature.

    Mirrors ``tfs_proto.RequestArrays``: ``work_bytes`` lets the engine decode
    large requests on a worker thread, ``without_shape_checks`` serves models
    that recompile for the shapes requests bring.
    """

    __slots__ = ("request", "max_bytes", "check_shapes")

    def __init__(self, request: Any, max_bytes: int = DEFAULT_MAX_BYTES, check_shapes: bool = True) -> None:
        self.request = request
        self.max_bytes = max_bytes
        self.check_shapes = check_shapes

    def __call__(self, signature: Signature) -> dict[str, np.ndarray]:
        return request_arrays(self.request, signature, self.max_bytes, self.check_shapes)

    @property
    def work_bytes(self) -> int:
        """What decoding costs: typed values at 8 bytes each, raw bytes (viewed, not parsed) at ``offload.raw_work``."""
        typed = sum(8 * len(getattr(t.contents, f)) for t in self.request.inputs if t.HasField("contents") for f in _ALL_FIELDS)
        return offload.raw_work(sum(len(raw) for raw in self.request.raw_input_contents)) + typed

    def without_shape_checks(self) -> InferArrays:
        return InferArrays(self.request, self.max_bytes, check_shapes=False)


def parameter_values(parameters: Any) -> dict[str, object]:
    """A parameters map as plain values (whichever oneof case each holds), for the engine's request record."""
    return {key: getattr(value, value.WhichOneof("parameter_choice") or "string_param") for key, value in parameters.items()}


def output_filter(request: Any) -> list[str] | None:
    """The outputs asked for, in order, or None for all; refused parameters and repeated names are InvalidInput."""
    if not request.outputs:
        return None
    names = []
    for output in request.outputs:
        _refuse_parameters(output.parameters, _UNSUPPORTED_OUTPUT_PARAMETERS, f"output '{output.name}'")
        names.append(output.name)
    if len(set(names)) != len(names):
        raise InvalidInput(f"output names repeat: {names}; ask for each output once")
    return names


def infer_response(model: str, version: int, outputs: dict[str, np.ndarray], request_id: str) -> Any:
    """Every output raw, in ``outputs`` order (the requested order when the request listed them)."""
    response = pb.ModelInferResponse(model_name=model, model_version=str(version), id=request_id)
    raw = response.raw_output_contents
    for name, array in outputs.items():
        response.outputs.add(name=name, datatype=v2_tensors.datatype_of(array), shape=array.shape)
        data = v2_tensors.to_raw(array)
        raw.append(data if isinstance(data, bytes) else data.tobytes())
    return response


def metadata_response(model: str, signature: Signature, served: list[str]) -> Any:
    """ModelMetadataResponse: the same document REST answers (``v2_metadata.model_metadata``)."""
    return pb.ModelMetadataResponse(**v2_metadata.model_metadata(model, signature, served))


def is_ready(statuses: list[VersionStatus], version: int | None) -> bool:
    """A model is ready when the version asked for (any, for the default) is AVAILABLE."""
    if version is None:
        return any(status.state == AVAILABLE for status in statuses)
    return any(status.version == version and status.state == AVAILABLE for status in statuses)


def config_response(model: str, signature: Signature) -> Any:
    """Triton's ModelConfigResponse: the same ModelConfig REST answers as JSON (``v2_metadata.model_config``)."""
    return pb.ModelConfigResponse(config=json_format.ParseDict(v2_metadata.model_config(model, signature), pb.ModelConfig()))
