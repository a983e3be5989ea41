"""Calls a running server with the official TF Serving Python client (run it with the TF client's Python).

stdin: one JSON object ``{"target": "host:port", "calls": [...]}``, each call one of::

    {"call": "predict", "model": "m", "version": 2, "output_filter": ["y"],
     "inputs": {"x": {"value": [[1.0, 2.0]], "dtype": "float32"}}}
    {"call": "metadata", "model": "m", "version": 2}
    {"call": "status", "model": "m", "version": 2}

("version" and "output_filter" are optional.) stdout: ``{"results": [...]}``, one per call in
order; a call the server refuses gives ``{"error": {"code": "NOT_FOUND", "details": "..."}}``.
The caller sets TF_CPP_MIN_LOG_LEVEL=3; TensorFlow's remaining chatter goes to stderr.
"""

from __future__ import annotations

import json
import sys

import grpc
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

TIMEOUT = 60.0


def _spec(target, call: dict) -> None:
    target.name = call["model"]
    if call.get("version") is not None:
        target.version.value = call["version"]


def _served(spec) -> dict:
    return {"name": spec.name, "version": spec.version.value, "signature_name": spec.signature_name}


def _array(proto) -> dict:
    value = tf.make_ndarray(proto)
    return {"value": value.tolist(), "dtype": value.dtype.name, "shape": list(value.shape)}


def _tensor_infos(infos) -> dict:
    return {
        key: {"name": info.name, "dtype": types_pb2.DataType.Name(info.dtype), "dims": [d.size for d in info.tensor_shape.dim]}
        for key, info in infos.items()
    }


def predict(stubs: dict, call: dict) -> dict:
    request = predict_pb2.PredictRequest()
    _spec(request.model_spec, call)
    for name, given in call["inputs"].items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(given["value"], dtype=given["dtype"]))
    request.output_filter.extend(call.get("output_filter", []))
    response = stubs["prediction"].Predict(request, TIMEOUT)
    return {"model_spec": _served(response.model_spec), "outputs": {k: _array(v) for k, v in response.outputs.items()}}


def metadata(stubs: dict, call: dict) -> dict:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    _spec(request.model_spec, call)
    request.metadata_field.append("signature_def")
    response = stubs["prediction"].GetModelMetadata(request, TIMEOUT)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata["signature_def"].Unpack(signatures):
        raise ValueError(f"signature_def holds {response.metadata['signature_def'].type_url}, not a SignatureDefMap")
    return {
        "model_spec": _served(response.model_spec),
        "signatures": {
            key: {"method_name": sig.method_name, "inputs": _tensor_infos(sig.inputs), "outputs": _tensor_infos(sig.outputs)}
            for key, sig in signatures.signature_def.items()
        },
    }


def status(stubs: dict, call: dict) -> dict:
    request = get_model_status_pb2.GetModelStatusRequest()
    _spec(request.model_spec, call)
    response = stubs["model"].GetModelStatus(request, TIMEOUT)
    state_name = get_model_status_pb2.ModelVersionStatus.State.Name
    return {
        "versions": [
            {"version": row.version, "state": state_name(row.state), "error_code": row.status.error_code,
             "error_message": row.status.error_message}
            for row in response.model_version_status
        ]
    }


CALLS = {"predict": predict, "metadata": metadata, "status": status}


def main() -> None:
    job = json.load(sys.stdin)
    results = []
    with grpc.insecure_channel(job["target"]) as channel:
        stubs = {
            "prediction": prediction_service_pb2_grpc.PredictionServiceStub(channel),
            "model": model_service_pb2_grpc.ModelServiceStub(channel),
        }
        for call in job["calls"]:
            try:
                results.append(CALLS[call["call"]](stubs, call))
            except grpc.RpcError as error:
                results.append({"error": {"code": error.code().name, "details": error.details()}})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
