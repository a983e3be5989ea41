"""Every body format an adapter can take or give, keyed by content type.

SageMaker and Lambda call ``decode`` with the request's type and ``encode``
with the negotiated response type; any request type pairs with any response
type. ``Decoded.records`` marks formats whose first dimension counts records
(CSV rows, JSON Lines): those are split to the model's batch size and every
record gets exactly one answer. Each decoder converts its own values (JSON and
CSV numbers round to the input's precision, typed arrays never do), so what
``Decoded.arrays`` returns needs no word on where it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidInput
from ..infer_request import ArrayBuilder, InferRequest
from ..signature import Signature
from . import answer_size, chunked_json, csv_rows, image_body, json_lines, media_types, numpy_files, sagemaker_v2, tfs_json
from .limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_RESPONSE_BYTES
from .v2_json import V2Arrays, V2Request

ROW, COLUMN = tfs_json.ROW, tfs_json.COLUMN
AUTO = "auto"  # JSON answers to non-JSON requests: row form when the outputs allow it
LINES = "lines"  # JSON answers to a JSON body of several lines: one line per record
V2 = "v2"  # a KServe v2 infer request (JSON or binary): its JSON answers are v2 answers


@dataclass(frozen=True)
class Decoded:
    """A request body in model terms; ``arrays`` types the values once the signature is known."""

    arrays: ArrayBuilder
    form: str = AUTO
    records: bool = False
    model: str | None = None  # x-protobuf requests name their model (v2 ones may: model_name)...
    version: int | None = None  # ...and may name a version
    output_filter: list[str] | None = None
    work_bytes: int = 0  # what building the arrays may decode or expand to: large ones build off the event loop
    v2: V2Request | None = None  # form V2: the request, whose id, parameters and binary_data flags shape the answer

    @property
    def model_field(self) -> str:
        """Where the body names its model, for messages."""
        return '"model_name"' if self.v2 is not None else "model_spec.name"

    def request(self, model: str, version: int | None) -> InferRequest:
        """The engine's request for ``model``: the arrays, records flag, output filter and size as decoded."""
        if self.v2 is not None:
            return InferRequest(model, version, self.arrays, output_filter=self.output_filter, work_bytes=self.work_bytes,
                                parameters=self.v2.parameters, request_id=self.v2.request_id)
        return InferRequest(model, version, self.arrays, output_filter=self.output_filter, records=self.records,
                            work_bytes=self.work_bytes)


def _single_input(array: np.ndarray, what: str) -> Callable[[Signature], dict[str, np.ndarray]]:
    def arrays(signature: Signature) -> dict[str, np.ndarray]:
        names = signature.input_names()
        if len(names) != 1:
            raise InvalidInput(
                f"{what} carries one array and the model has inputs {names}; send application/x-npz or "
                "application/msgpack with one array per input name"
            )
        return {names[0]: array}

    return arrays


def _npz_arrays(found: dict[str, np.ndarray]) -> Callable[[Signature], dict[str, np.ndarray]]:
    """Members go to the inputs they name; only ``arr_0`` (what ``numpy.savez(x)`` writes) may stand for a single input."""

    def arrays(signature: Signature) -> dict[str, np.ndarray]:
        names = signature.input_names()
        if list(found) == ["arr_0"] and len(names) == 1:
            return {names[0]: found["arr_0"]}
        unknown = [name for name in found if signature.input(name) is None]
        if unknown:
            raise InvalidInput(
                f"the .npz member {unknown[0][:100]!r} is not an input of the model, whose inputs are {names}; "
                "expected one member per input, named by input (numpy.savez(buffer, name=array)), or a single arr_0"
            )
        return found

    return arrays


def _json_records(body: bytes) -> tfs_json.JsonPredictRequest | None:
    """A JSON body of several lines, each a record: batch transform's Line split with a JSON content type."""
    if body.strip().count(b"\n") == 0:
        return None
    try:
        return json_lines.parse(body)
    except InvalidInput:
        return None


def _v2(found: sagemaker_v2.V2Body, body: bytes) -> Decoded:
    return Decoded(V2Arrays(found.request, found.blobs), form=V2, model=found.model, output_filter=found.request.outputs,
                   work_bytes=len(body), v2=found.request)


def decode(media_type: str, body: bytes, max_bytes: int = DEFAULT_MAX_BYTES, content_type: str | None = None) -> Decoded:
    """Parse ``body`` as ``media_type`` (a canonical type from media_types); InvalidInput when it is not one.

    ``content_type`` is the request's full header, for the parameters a type carries (``json-header-size``).
    """
    decoded = _decode(media_type, body, max_bytes, content_type)
    return decoded if decoded.work_bytes else replace(decoded, work_bytes=len(body))


def _decode(media_type: str, body: bytes, max_bytes: int, content_type: str | None) -> Decoded:
    if media_type == media_types.V2_BINARY:
        return _v2(sagemaker_v2.parse_binary(body, content_type, max_bytes), body)
    if media_type == media_types.JSON:
        found = sagemaker_v2.parse_json(body, max_bytes)  # None: not a v2 request, so a TF Serving body
        if found is not None:
            return _v2(found, body)
        try:
            parsed = tfs_json.parse_predict(body, allow_bare=True)
        except InvalidInput:
            lines = _json_records(body)
            if lines is None:
                raise
            return Decoded(lines.arrays, form=LINES, records=True)
        return Decoded(parsed.arrays, form=parsed.form)
    if media_type == media_types.JSONLINES:
        parsed = json_lines.parse(body)
        return Decoded(parsed.arrays, form=ROW, records=True)
    if media_type == media_types.CSV:
        return Decoded(lambda signature: csv_rows.records(body, signature), form=ROW, records=True)
    if media_type == media_types.NPY:
        return Decoded(_single_input(numpy_files.load_npy(body, max_bytes), "the .npy body"))
    if media_types.is_image(media_type):  # one image for the single input; the engine decodes it
        return Decoded(image_body.parse(body, media_type))
    if media_type == media_types.NPZ:
        return Decoded(_npz_arrays(numpy_files.load_npz(body, max_bytes)))
    if media_type == media_types.MSGPACK:
        from . import msgpack_arrays

        return Decoded(msgpack_arrays.parse(body, max_bytes).arrays)
    if media_type == media_types.PROTOBUF:
        from . import tfs_proto

        request = tfs_proto.parse_predict_request(body)
        tfs_proto.check_signature_name(request.model_spec)
        arrays = tfs_proto.RequestArrays(request, max_bytes)  # checked against the model's signature before expanding
        return Decoded(
            arrays,
            model=request.model_spec.name or None,
            version=tfs_proto.requested_version(request.model_spec),
            output_filter=list(request.output_filter) or None,
            work_bytes=arrays.work_bytes,
        )
    raise ValueError(f"no decoder for {media_type}")  # callers pass types from media_types only


def _json(outputs: dict[str, np.ndarray], form: str) -> bytes:
    if form == LINES:
        return json_lines.dump(outputs)
    if form != AUTO:  # chunked_json: tfs_json's bytes, a slice at a time (encodes may run on a worker thread)
        return chunked_json.encode_predict(outputs, form)
    try:
        return chunked_json.encode_predict(outputs, ROW)
    except InvalidInput:  # outputs without a shared batch dimension: the columnar form still holds them
        return chunked_json.encode_predict(outputs, COLUMN)


def _v2_size(request: V2Request, outputs: dict[str, np.ndarray]) -> int:
    """An upper bound of a v2 answer: binary outputs cost their bytes, the others their JSON text."""
    text = {name: array for name, array in outputs.items() if not request.wants_binary(name)}
    return answer_size.text_bytes(text) + sum(array.nbytes for name, array in outputs.items() if name not in text)


def encode_typed(
    media_type: str, outputs: dict[str, np.ndarray], form: str, model: str, version: int,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, v2: V2Request | None = None,
) -> tuple[bytes, str]:
    """(body, Content-Type) for ``outputs`` as ``media_type``: ``encode``, plus the v2 answers.

    A v2 request (``v2``) answered as JSON gets a v2 answer with every output as
    JSON data; answered as ``V2_BINARY``, its binary_data flags hold, and any
    other request's outputs all go binary. The binary type's Content-Type names
    the answer's ``json-header-size``; an answer with no binary output is
    ``application/json``, as Triton's SageMaker server answers.
    """
    if media_type == media_types.V2_BINARY or (media_type == media_types.JSON and v2 is not None):
        request = v2 or sagemaker_v2.ALL_BINARY
        if media_type == media_types.JSON:
            request = sagemaker_v2.only_json(request)
        answer_size.check(_v2_size(request, outputs), max_bytes, media_type)
        try:
            return sagemaker_v2.encode(model, version, request, outputs)
        except TypeError as exc:
            raise InvalidInput(f"the model's output cannot be written as a KServe v2 answer: {exc}") from None
    return encode(media_type, outputs, form, model, version, max_bytes), media_type


def encode(
    media_type: str, outputs: dict[str, np.ndarray], form: str, model: str, version: int,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> bytes:
    """The response body for ``outputs`` as ``media_type``; NotAcceptable when that type cannot hold them.

    PayloadTooLarge, before anything is written, when the answer could exceed ``max_bytes``.
    """
    if media_type == media_types.V2_BINARY:
        return encode_typed(media_type, outputs, form, model, version, max_bytes)[0]
    answer_size.check(answer_size.estimate(media_type, outputs), max_bytes, media_type)
    if media_type == media_types.JSON:
        try:
            return _json(outputs, form)
        except TypeError as exc:
            raise InvalidInput(f"the model's output cannot be written as JSON: {exc}") from None
    if media_type == media_types.JSONLINES:
        return json_lines.dump(outputs)
    if media_type == media_types.CSV:
        return csv_rows.dump(outputs)
    if media_type == media_types.NPY:
        return numpy_files.dump_npy(outputs)
    if media_type == media_types.NPZ:
        return numpy_files.dump_npz(outputs)
    if media_type == media_types.MSGPACK:
        from . import msgpack_arrays

        return msgpack_arrays.dump(outputs)
    if media_type == media_types.PROTOBUF:
        from . import tfs_proto

        return tfs_proto.predict_response(model, version, outputs).SerializeToString()
    raise ValueError(f"no encoder for {media_type}")
