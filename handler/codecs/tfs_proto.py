"""TF Serving protobuf messages <-> the engine's terms (names, versions, arrays, signatures).

Used by the gRPC server and by any adapter that takes a serialized
``PredictRequest`` (SageMaker's ``application/x-protobuf``). Message classes
come from ovserve's own generated modules (private descriptor pool), never
from tensorflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import versions
from ..errors import InvalidInput
from ..protos import serving_apis_pb2 as apis
from ..protos import tensor_pb2
from ..signature import Signature, TensorSpec
from ..status import VersionStatus
from ..validation import check_names
from . import tensor_proto

SIGNATURE_NAME = "serving_default"
METHOD_NAME = "tensorflow/serving/predict"
_STATES = {name: apis.ModelVersionStatus.State.Value(name) for name in ("START", "LOADING", "AVAILABLE", "UNLOADING", "END")}
_CODES = {"OK": 0, "UNKNOWN": 2}


def parse_predict_request(body: bytes) -> Any:
    """A serialized PredictRequest, or InvalidInput when the bytes are not one."""
    return parse(apis.PredictRequest, body)


def requested_version(spec: Any) -> int | None:
    """The version a ModelSpec asks for: None for the default (absent or 0)."""
    if spec.WhichOneof("version_choice") == "version_label":
        raise versions.label_not_supported(spec.version_label)
    if not spec.HasField("version"):
        return None
    return versions.from_number(spec.version.value)


def model_name(spec: Any) -> str:
    """The model a ModelSpec names; an empty name is a malformed request, not an unknown model."""
    if not spec.name:
        raise InvalidInput("model_spec.name is empty; expected the name of a served model")
    return spec.name


def parse(message_class: Any, body: bytes) -> Any:
    """Any of our request messages from bytes, or InvalidInput naming the expected type."""
    message = message_class()
    try:
        message.ParseFromString(body)
    except Exception:  # protobuf's DecodeError and friends
        raise InvalidInput(f"request is not a serialized {message_class.DESCRIPTOR.full_name}") from None
    return message


def request_arrays(
    request: Any, max_bytes: int = tensor_proto.DEFAULT_MAX_BYTES, signature: Signature | None = None,
    check_shapes: bool = True,
) -> dict[str, np.ndarray]:
    """Every input of a PredictRequest as an array, each checked against its declared shape.

    With the model's ``signature``, names, types and shapes are checked against
    it before any value is expanded to its declared shape, and the arrays come
    back in the model's types.
    """
    if not request.inputs:
        raise InvalidInput("the request has no inputs; expected at least one named TensorProto in inputs")
    if signature is None:
        return {name: tensor_proto.to_array(name, proto, max_bytes) for name, proto in request.inputs.items()}
    check_names(request.inputs, signature)
    return {
        name: tensor_proto.to_array(name, proto, max_bytes, signature.input(name), check_shapes)
        for name, proto in request.inputs.items()
    }


class RequestArrays:
    """The engine's array builder for a PredictRequest: decoding waits for the model's signature.

    ``work_bytes`` tells the engine how much the decode may expand to, so large
    ones run on a worker thread; ``without_shape_checks`` is what the engine uses
    for models that recompile for the shapes requests bring. A plain class with
    slots: one is built per gRPC request, and a frozen dataclass costs a few
    microseconds more to make.
    """

    __slots__ = ("request", "max_bytes", "check_shapes")

    def __init__(self, request: Any, max_bytes: int = tensor_proto.DEFAULT_MAX_BYTES, check_shapes: bool = True) -> None:
        self.request = request
        self.max_bytes = max_bytes
        self.check_shapes = check_shapes

    def __call__(self, signature: Signature) -> dict[str, np.ndarray]:
        return request_arrays(self.request, self.max_bytes, signature, self.check_shapes)

    @property
    def work_bytes(self) -> int:
        return sum(tensor_proto.decode_work(proto) for proto in self.request.inputs.values())

    def without_shape_checks(self) -> RequestArrays:
        return RequestArrays(self.request, self.max_bytes, check_shapes=False)


def check_signature_name(spec: Any) -> None:
    """Only the default signature is served; TF Serving refuses any other name, and so do we."""
    if spec.signature_name not in ("", SIGNATURE_NAME):
        raise InvalidInput(
            f"Serving signature name: {spec.signature_name[:100]!r} not found in signature def; expected "
            f'"{SIGNATURE_NAME}", the only signature this model serves (or leave model_spec.signature_name empty)'
        )


def _model_spec(target: Any, model: str, version: int) -> None:
    target.name = model
    target.version.value = version
    target.signature_name = SIGNATURE_NAME


def predict_response(model: str, version: int, outputs: dict[str, np.ndarray]) -> Any:
    response = apis.PredictResponse()
    _model_spec(response.model_spec, model, version)
    for name, array in outputs.items():
        tensor_proto.fill(response.outputs[name], array)
    return response


def _tensor_info(target: Any, spec: TensorSpec) -> None:
    target.name = spec.name
    target.dtype = spec.dtype.tf_enum
    if spec.shape is None:
        target.tensor_shape.unknown_rank = True
    else:
        target.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in spec.metadata_dims()])


def check_metadata_fields(fields: list[str]) -> None:
    """Only ``signature_def`` is served; anything else is named back to the client."""
    if not fields:
        raise InvalidInput('metadata_field is empty; expected ["signature_def"]')
    unknown = [field for field in fields if field != "signature_def"]
    if unknown:
        raise InvalidInput(f"metadata field {unknown[0]!r} is not supported; only signature_def is")


def metadata_response(model: str, version: int, signature: Signature) -> Any:
    response = apis.GetModelMetadataResponse()
    _model_spec(response.model_spec, model, version)
    signatures = apis.SignatureDefMap()
    definition = signatures.signature_def[SIGNATURE_NAME]
    definition.method_name = METHOD_NAME
    for spec in signature.inputs:
        _tensor_info(definition.inputs[spec.name], spec)
    for spec in signature.outputs:
        _tensor_info(definition.outputs[spec.name], spec)
    response.metadata["signature_def"].Pack(signatures)
    return response


def status_response(statuses: list[VersionStatus]) -> Any:
    response = apis.GetModelStatusResponse()
    for status in statuses:
        row = response.model_version_status.add()
        row.version = status.version
        row.state = _STATES[status.state]
        row.status.error_code = _CODES.get(status.error_code, 2)
        row.status.error_message = status.error_message
    return response
