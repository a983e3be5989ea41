"""TF Serving REST JSON: predict bodies in, predictions/outputs out, metadata, status.

Request forms (https://www.tensorflow.org/tfx/serving/api_rest):
row ``{"instances": [{name: value}, ...]}`` or ``{"instances": [value, ...]}``,
column ``{"inputs": {name: value}}`` or ``{"inputs": value}``; the simplified
forms need a single-input model. ``{"b64": "..."}`` carries bytes for string
tensors. The response mirrors the request: row -> ``predictions``, column ->
``outputs``; one output is a bare array, several are named.

Parsing happens in two steps because JSON numbers have no type of their own:
``parse_predict`` checks the structure, ``JsonPredictRequest.arrays`` builds
arrays once the model's signature tells which types the values must take.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..errors import InvalidInput
from ..signature import Signature, TensorSpec
from ..status import VersionStatus
from ..validation import check_names, convert, takes_images
from . import json_numbers
from .declared import MAX_RANK

ROW, COLUMN = "row", "column"
SIGNATURE_NAME = "serving_default"  # the one signature ovserve serves, as metadata reports it (tfs_proto's too)
_EXPECTED = 'expected a JSON object with "instances" (row format) or "inputs" (columnar format)'


@dataclass(frozen=True)
class JsonPredictRequest:
    """A structurally valid predict body; values stay JSON until the signature is known."""

    form: str  # ROW or COLUMN
    named: dict[str, Any] | None  # input name -> JSON value (batch-first for rows)
    unnamed: Any = None  # the value of the simplified forms
    may_hold_booleans: bool = True  # False when the body has no true/false token: skips a scan
    body: bytes = b""  # kept for large bodies: their arrays decode lazily (json_numbers)
    keepalive: Any = None  # the parser that owns those lazy arrays

    def arrays(self, signature: Signature) -> dict[str, np.ndarray]:
        """Arrays typed as the model expects; InvalidInput for anything that does not fit."""
        if self.named is None:
            names = signature.input_names()
            if len(names) != 1:
                raise InvalidInput(
                    f"the request gives one unnamed input but the model has inputs {names}; "
                    "expected values named by input"
                )
            values = {names[0]: self.unnamed}
        else:
            values = self.named
        check_names(values, signature)
        if self.keepalive is not None:
            fast = self._fast_arrays(values, signature)
            if fast is not None:
                return fast
            values = {name: json_numbers.as_list(value) for name, value in values.items()}
        return {
            name: to_array(signature.input(name), value, self.may_hold_booleans)  # type: ignore[arg-type]
            for name, value in values.items()
        }

    def _fast_arrays(self, values: dict[str, Any], signature: Signature) -> dict[str, np.ndarray] | None:
        """Every input through json_numbers, or None when any needs the strict path."""
        arrays: dict[str, np.ndarray] = {}
        brackets = 0
        for name, value in values.items():
            spec = signature.input(name)
            if not json_numbers.is_lazy(value) or spec is None or spec.dtype.numpy is None:
                return None
            decoded = json_numbers.numeric_rows(value, spec.dtype.numpy.kind)
            if decoded is None:
                return None
            arrays[name], count = decoded
            brackets += count
        if self.form == ROW and self.named is not None:
            brackets += 1  # the "instances" list itself
        if brackets != self.body.count(b"["):
            return None  # some element nests deeper than the shape says: let the strict path name it
        return {name: convert(signature.input(name), array, rounding_allowed=True) for name, array in arrays.items()}  # type: ignore[arg-type]


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def parse_predict(body: bytes, allow_bare: bool = False) -> JsonPredictRequest:
    """Check a predict body's structure; InvalidInput says what is wrong and what was expected.

    ``allow_bare`` also takes a top-level array as the instances of a
    single-input model (what SageMaker clients often send).
    """
    if not body or not body.strip():
        raise InvalidInput(f"request body is empty; {_EXPECTED}")
    keepalive = None
    try:
        if len(body) >= json_numbers.LARGE_BODY:
            document, keepalive = json_numbers.load(body)
        else:
            document = orjson.loads(body)
    except (orjson.JSONDecodeError, json_numbers.JsonError) as exc:
        hint = " (NaN and Infinity are not JSON numbers)" if b"NaN" in body or b"Infinity" in body else ""
        raise InvalidInput(f"request body is not valid JSON{hint} ({exc}); {_EXPECTED}") from None
    if allow_bare and (isinstance(document, list) or json_numbers.is_lazy(document)):
        booleans = keepalive is not None or b"true" in body or b"false" in body
        return _parse_rows(document, booleans, {"body": body, "keepalive": keepalive} if keepalive is not None else {})
    if not isinstance(document, dict):
        kind = "list" if json_numbers.is_lazy(document) else type(document).__name__
        raise InvalidInput(f"request body is a JSON {kind}; {_EXPECTED}")
    unknown = sorted(set(document) - {"instances", "inputs", "signature_name"})
    if unknown:
        raise InvalidInput(f"Invalid inputs in request body: unknown key {unknown[0]!r}; {_EXPECTED}")
    signature_name = document.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise InvalidInput('"signature_name" must be a string')
    if signature_name not in (None, "", SIGNATURE_NAME):  # TF Serving answers an unknown signature with a 400 too
        raise InvalidInput(
            f"Serving signature name: {signature_name[:100]!r} not found in signature def; expected \"{SIGNATURE_NAME}\", "
            'the only signature this model serves (or leave "signature_name" out)'
        )
    if ("instances" in document) == ("inputs" in document):
        raise InvalidInput(f"Invalid inputs in request body: give exactly one of \"instances\" or \"inputs\"; {_EXPECTED}")
    # Small bodies: one scan spares the strict decoder a per-value walk. Large ones go the fast path, which
    # refuses booleans by itself; if they fall back, the strict decoder simply walks the values.
    booleans = keepalive is not None or b"true" in body or b"false" in body
    lazy = {"body": body, "keepalive": keepalive} if keepalive is not None else {}
    if "inputs" in document:
        inputs = document["inputs"]
        if isinstance(inputs, dict) and not _is_b64(inputs):
            if not inputs:
                raise InvalidInput('Invalid inputs in request body: "inputs" is an empty object')
            return JsonPredictRequest(COLUMN, dict(inputs), may_hold_booleans=booleans, **lazy)
        return JsonPredictRequest(COLUMN, None, inputs, may_hold_booleans=booleans, **lazy)
    return _parse_rows(document["instances"], booleans, lazy)


def parse_instances(instances: list[Any], may_hold_booleans: bool = True) -> JsonPredictRequest:
    """Already-decoded row-format instances (e.g. one per JSON Lines record) as a request."""
    return _parse_rows(instances, may_hold_booleans, {})


def _parse_rows(instances: Any, booleans: bool, lazy: dict) -> JsonPredictRequest:
    if json_numbers.is_lazy(instances) and not isinstance(instances, list):
        if not len(instances):
            raise InvalidInput('Invalid inputs in request body: "instances" must be a non-empty list')
        return JsonPredictRequest(ROW, None, instances, may_hold_booleans=booleans, **lazy)
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('Invalid inputs in request body: "instances" must be a non-empty list')
    named = [isinstance(item, dict) and not _is_b64(item) for item in instances]
    if not any(named):
        return JsonPredictRequest(ROW, None, instances, may_hold_booleans=booleans, **lazy)
    if not all(named):
        raise InvalidInput(
            'Invalid inputs in request body: "instances" mixes named objects and bare values; expected one kind'
        )
    keys = set(instances[0])
    if not keys:
        raise InvalidInput('Invalid inputs in request body: an instance is an empty object')
    for position, item in enumerate(instances):
        if set(item) != keys:
            raise InvalidInput(
                f"Invalid inputs in request body: instance {position} has keys {sorted(item)}, "
                f"expected the same keys as instance 0: {sorted(keys)}"
            )
    return JsonPredictRequest(
        ROW, {name: [item[name] for item in instances] for name in instances[0]}, may_hold_booleans=booleans, **lazy
    )


def _too_deep(name: str) -> InvalidInput:
    return InvalidInput(f"input {name!r} nests lists more than {MAX_RANK} levels deep; expected at most {MAX_RANK} dimensions")


def _string_leaves(name: str, value: Any, depth: int = 0) -> Any:
    """Nested lists of str / {"b64"} -> the same nesting with bytes; at most MAX_RANK levels (no RecursionError)."""
    if isinstance(value, list):
        if depth >= MAX_RANK:
            raise _too_deep(name)
        return [_string_leaves(name, item, depth + 1) for item in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):  # msgpack carries bytes natively
        return value
    if _is_b64(value):
        text = value["b64"]
        if not isinstance(text, str):
            raise InvalidInput(f'input {name!r}: a "b64" value must be a base64 string')
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"input {name!r}: a \"b64\" value is not valid base64") from None
    raise InvalidInput(f"input {name!r} takes strings; got a JSON {type(value).__name__}")


def _contains_b64(value: Any, depth: int = 0) -> bool:
    if _is_b64(value):
        return True
    if isinstance(value, list) and value and depth < 64:
        return _contains_b64(value[0], depth + 1)
    return False


def _holds_boolean(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_boolean(item) for item in value)
    return isinstance(value, bool)


def to_array(spec: TensorSpec, value: Any, may_hold_booleans: bool = True) -> np.ndarray:
    """One JSON value as an array of ``spec``'s type (string inputs keep bytes in an object array).

    Converted here, once: plain numbers (JSON text, msgpack lists) round to a
    float input's precision, which no later check may do (``validation.convert``).
    numpy turns ``[1, true]`` into integers; booleans mixed with numbers are refused
    like booleans alone (the scan runs only when the body has a true/false token).
    """
    name = spec.name
    if spec.dtype.is_string or (takes_images(spec) and _contains_b64(value)):  # strings, or images to decode
        leaves = _string_leaves(name, value)
        try:
            array = np.array(leaves, dtype=object)
        except ValueError as exc:
            raise InvalidInput(f"input {name!r} is not a rectangular array: {exc}") from None
        if array.dtype != object or any(not isinstance(x, bytes) for x in array.flat):
            raise InvalidInput(f"input {name!r} is not a rectangular array of strings")
        return array
    if _contains_b64(value):
        raise InvalidInput(
            f'input {name!r}: "b64" values are only accepted for string inputs; this input takes {spec.dtype.ov_name} numbers'
        )
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        reason = str(exc).split(". ", 1)[-1]
        raise InvalidInput(f"input {name!r} is not a rectangular array of numbers: {reason}") from None
    if array.dtype == object:
        raise InvalidInput(
            f"input {name!r} must be a rectangular array of numbers; found mixed types, nulls or integers beyond 64 bits"
        )
    if array.ndim > MAX_RANK:
        raise _too_deep(name)
    if may_hold_booleans and array.dtype.kind in "iuf" and spec.dtype.ov_name != "boolean" and _holds_boolean(value):
        raise InvalidInput(
            f"Invalid data type for input '{name}'. Obtained booleans mixed with numbers, required "
            f"{spec.dtype.tf_name} ({spec.dtype.ov_name}): booleans are not converted to numbers"
        )
    return convert(spec, array, rounding_allowed=True)  # plain numbers: decimals round to the input's precision


def _jsonable(value: Any) -> Any:
    """orjson's fallback for what it cannot write natively: strings, odd layouts, 0-d arrays."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SUO":
            return [_jsonable(item) for item in value] if value.ndim else _jsonable(value.item())
        return value.tolist()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(document: Any) -> bytes:
    """JSON bytes, numpy arrays written natively by orjson where it can."""
    return orjson.dumps(document, default=_jsonable, option=orjson.OPT_SERIALIZE_NUMPY)


def _c(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def encode_predict(outputs: dict[str, np.ndarray], form: str) -> bytes:
    """The response body mirroring the request form."""
    arrays = {name: _c(array) for name, array in outputs.items()}
    if form == COLUMN:
        if len(arrays) == 1:
            return dumps({"outputs": next(iter(arrays.values()))})
        return dumps({"outputs": arrays})
    if len(arrays) == 1:
        return dumps({"predictions": next(iter(arrays.values()))})
    batches = {array.shape[0] if array.ndim else None for array in arrays.values()}
    if len(batches) != 1 or None in batches:
        raise InvalidInput(
            "the model's outputs do not share a batch dimension, so they cannot be split into instances; "
            'send the request in columnar format ("inputs") instead'
        )
    count = batches.pop()
    return dumps({"predictions": [{name: array[i] for name, array in arrays.items()} for i in range(count)]})


def _tensor_info(spec: TensorSpec) -> dict:
    return {
        "dtype": spec.dtype.tf_name,
        "tensorShape": {
            "dim": [{"size": str(size), "name": ""} for size in spec.metadata_dims()],
            "unknownRank": spec.shape is None,
        },
        "name": spec.name,
    }


def encode_metadata(model: str, version: int, signature: Signature) -> bytes:
    """GetModelMetadata as TF Serving's REST API writes it (protobuf JSON with ``@type``)."""
    return dumps(
        {
            "modelSpec": {"name": model, "signatureName": "", "version": str(version)},
            "metadata": {
                "signature_def": {
                    "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                    "signatureDef": {
                        SIGNATURE_NAME: {
                            "inputs": {s.name: _tensor_info(s) for s in signature.inputs},
                            "outputs": {s.name: _tensor_info(s) for s in signature.outputs},
                            "methodName": "tensorflow/serving/predict",
                        }
                    },
                }
            },
        }
    )


def status_rows(statuses: list[VersionStatus]) -> list[dict]:
    """``model_version_status`` entries as TF Serving's REST API writes them."""
    return [
        {
            "version": str(s.version),
            "state": s.state,
            "status": {"error_code": s.error_code, "error_message": s.error_message},
        }
        for s in statuses
    ]


def encode_status(statuses: list[VersionStatus]) -> bytes:
    """GetModelStatus as TF Serving's REST API writes it."""
    return dumps({"model_version_status": status_rows(statuses)})
