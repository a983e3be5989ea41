"""Building request bodies and reading answers in every SageMaker content type, as a client would."""

from __future__ import annotations

import io

import msgpack
import msgpack_numpy
import numpy as np
import orjson

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2 as apis

TYPES = (
    "application/json",
    "application/jsonlines",
    "text/csv",
    "application/x-npy",
    "application/x-npz",
    "application/msgpack",
    "application/x-protobuf",
)


def request_body(content_type: str, inputs: dict[str, np.ndarray], model: str = "") -> bytes:
    """``inputs`` (name -> batch-first array) in ``content_type``; single-input formats take the only one."""
    only = next(iter(inputs.values()))
    if content_type == "application/json":
        return orjson.dumps({"inputs": {k: v.tolist() for k, v in inputs.items()}})
    if content_type == "application/jsonlines":
        if len(inputs) == 1:
            return b"\n".join(orjson.dumps(row.tolist()) for row in only)
        return b"\n".join(orjson.dumps({k: v[i].tolist() for k, v in inputs.items()}) for i in range(len(only)))
    if content_type == "text/csv":
        return "\n".join(",".join(repr(float(v)) for v in row.ravel()) for row in only).encode()
    if content_type == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, only)
        return buffer.getvalue()
    if content_type == "application/x-npz":
        buffer = io.BytesIO()
        np.savez(buffer, **inputs)
        return buffer.getvalue()
    if content_type == "application/msgpack":
        return msgpack.packb(inputs, default=msgpack_numpy.encode)
    if content_type == "application/x-protobuf":
        request = apis.PredictRequest()
        request.model_spec.name = model
        for name, array in inputs.items():
            tensor_proto.fill(request.inputs[name], array)
        return request.SerializeToString()
    raise ValueError(content_type)


def answer(content_type: str, body: bytes) -> dict[str, np.ndarray]:
    """The outputs an answer carries, by name ("_" where the format carries no names)."""
    if content_type == "application/json":
        document = orjson.loads(body)
        value = document.get("predictions", document.get("outputs"))
        if isinstance(value, dict):
            return {k: np.array(v) for k, v in value.items()}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return {k: np.array([row[k] for row in value]) for k in value[0]}
        return {"_": np.array(value)}
    if content_type == "application/jsonlines":
        rows = [orjson.loads(line) for line in body.split(b"\n") if line.strip()]
        if isinstance(rows[0], dict):
            return {k: np.array([row[k] for row in rows]) for k in rows[0]}
        return {"_": np.array(rows)}
    if content_type == "text/csv":
        return {"_": np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)}
    if content_type == "application/x-npy":
        return {"_": np.load(io.BytesIO(body), allow_pickle=False)}
    if content_type == "application/x-npz":
        archive = np.load(io.BytesIO(body), allow_pickle=False)
        return {k: archive[k] for k in archive.files}
    if content_type == "application/msgpack":
        return msgpack.unpackb(body, object_hook=msgpack_numpy.decode)
    if content_type == "application/x-protobuf":
        response = apis.PredictResponse()
        response.ParseFromString(body)
        return {k: tensor_proto.to_array(k, v) for k, v in response.outputs.items()}
    raise ValueError(content_type)


def only_output(outputs: dict[str, np.ndarray]) -> np.ndarray:
    assert len(outputs) == 1, outputs
    return next(iter(outputs.values()))


def deep_json(levels: int = 1100, size: int = 70_000) -> bytes:
    """Row-format JSON nested ``levels`` deep, padded with spaces to ``size`` bytes (past the large-body parser's 64 KiB)."""
    body = b'{"instances": ' + b"[" * levels + b"]" * levels + b"}"
    return body + b" " * max(0, size - len(body))


def forged_npy(descr: str, shape: tuple, data: bytes = b"") -> bytes:
    """An npy header declaring whatever we like, followed by ``data``: what a hostile client can send."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def npz_named(**arrays: np.ndarray) -> bytes:
    """``numpy.savez`` with members named as given."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
