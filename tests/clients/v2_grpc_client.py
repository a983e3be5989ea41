"""Calls a running server with the official ``tritonclient.grpc``, unmodified (run it with ``.venv-v2clients``' Python).

stdin: one JSON object ``{"target": "host:port", "calls": [...]}``, each call one of::

    {"call": "live"}  {"call": "ready"}  {"call": "server_metadata"}
    {"call": "model_ready", "model": "m", "version": "2"}
    {"call": "metadata", "model": "m", "version": "2"}
    {"call": "config", "model": "m"}
    {"call": "infer", "model": "m", "version": "2", "id": "r1", "outputs": ["y"],
     "inputs": {"x": {"value": [[1.0, 2.0]], "datatype": "FP32"}}}

("version", "id" and "outputs" are optional; BYTES values are UTF-8 strings.) stdout:
``{"results": [...]}``, one per call in order; a call the server refuses gives
``{"error": {"status": "StatusCode.NOT_FOUND", "message": "..."}}``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype


def _array(given: dict) -> np.ndarray:
    if given["datatype"] == "BYTES":
        return np.array([text.encode() for text in given["value"]], dtype=np.object_)
    return np.array(given["value"], dtype=triton_to_np_dtype(given["datatype"]))


def _plain(array: np.ndarray) -> dict:
    if array.dtype == np.object_:
        return {"value": [item.decode() for item in array.reshape(-1)], "dtype": "object", "shape": list(array.shape)}
    return {"value": array.tolist(), "dtype": array.dtype.name, "shape": list(array.shape)}


def infer(client: grpcclient.InferenceServerClient, call: dict) -> dict:
    inputs = []
    for name, given in call["inputs"].items():
        array = _array(given)
        tensor = grpcclient.InferInput(name, list(array.shape), given["datatype"])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    outputs = [grpcclient.InferRequestedOutput(name) for name in call.get("outputs", [])] or None
    result = client.infer(call["model"], inputs, model_version=call.get("version", ""), outputs=outputs,
                          request_id=call.get("id", ""))
    response = result.get_response()
    return {
        "model_name": response.model_name, "model_version": response.model_version, "id": response.id,
        "outputs": {output.name: _plain(result.as_numpy(output.name)) for output in response.outputs},
    }


def main() -> None:
    job = json.load(sys.stdin)
    client = grpcclient.InferenceServerClient(job["target"])
    calls = {
        "live": lambda c: {"live": client.is_server_live()},
        "ready": lambda c: {"ready": client.is_server_ready()},
        "server_metadata": lambda c: client.get_server_metadata(as_json=True),
        "model_ready": lambda c: {"ready": client.is_model_ready(c["model"], c.get("version", ""))},
        "metadata": lambda c: client.get_model_metadata(c["model"], c.get("version", ""), as_json=True),
        "config": lambda c: client.get_model_config(c["model"], c.get("version", ""), as_json=True),
        "infer": lambda c: infer(client, c),
    }
    results = []
    for call in job["calls"]:
        try:
            results.append(calls[call["call"]](call))
        except InferenceServerException as error:
            results.append({"error": {"status": error.status(), "message": error.message()}})
    client.close()
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
