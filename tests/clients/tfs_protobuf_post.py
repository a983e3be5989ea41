"""POSTs a PredictRequest built by the official TF Serving client to a SageMaker endpoint (run with the TF client's Python).

stdin: ``{"url": "http://host:port/invocations", "model": "m", "inputs": {"x": {"value": [[...]], "dtype": "float32"}}}``.
The body is ``predict_pb2.PredictRequest`` from tensorflow-serving-api, sent as ``application/x-protobuf``
and answered in the same type; the answer is read with ``predict_pb2.PredictResponse`` and
``tf.make_ndarray``. stdout: ``{"status": 200, "model": ..., "version": ..., "outputs": {name: {"value", "dtype"}}}``.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2


def main() -> None:
    call = json.load(sys.stdin)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = call["model"]
    for name, given in call["inputs"].items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(given["value"], dtype=given["dtype"]))
    http = urllib.request.Request(
        call["url"], data=request.SerializeToString(), method="POST",
        headers={"Content-Type": "application/x-protobuf", "Accept": "application/x-protobuf"},
    )
    try:
        with urllib.request.urlopen(http, timeout=60) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        json.dump({"status": error.code, "error": error.read().decode(errors="replace")}, sys.stdout)
        return
    response = predict_pb2.PredictResponse()
    response.ParseFromString(body)
    outputs = {}
    for name, proto in response.outputs.items():
        value = tf.make_ndarray(proto)
        outputs[name] = {"value": value.tolist(), "dtype": value.dtype.name}
    json.dump({"status": status, "model": response.model_spec.name, "version": response.model_spec.version.value,
               "outputs": outputs}, sys.stdout)


if __name__ == "__main__":
    main()
