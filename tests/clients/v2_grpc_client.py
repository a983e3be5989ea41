"""Calls a running server with the official ``tritonclient.grpc``, unmodified (run it with ``.venv-v2clients``' Python).

stdin: one JSON object ``{"target": "host:port", "aio": false, "calls": [...]}``, each call one of::

    {"call": "live"}  {"call": "ready"}  {"call": "server_metadata"}
    {"call": "model_ready", "model": "m", "version": "2"}
    {"call": "metadata", "model": "m", "version": "2"}
    {"call": "config", "model": "m"}
    {"call": "infer", "model": "m", "version": "2", "id": "r1", "outputs": ["y"], "async": true,
     "inputs": {"x": {"value": [[1.0, 2.0]], "datatype": "FP32"}}}
    {"call": "index"}  {"call": "load", "model": "m", "config": "{...}"}  {"call": "unload", "model": "m"}

("version", "id", "outputs", "async" and "config" are optional; BYTES values are UTF-8 strings.)
``"aio": true`` makes every call through ``tritonclient.grpc.aio``; ``"async": true`` on an
infer uses the sync client's ``async_infer`` (callback form). stdout:
``{"results": [...]}``, one per call in order; a call the server refuses gives
``{"error": {"status": "StatusCode.NOT_FOUND", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpc_aio
from tritonclient.utils import InferenceServerException, triton_to_np_dtype


def _array(given: dict) -> np.ndarray:
    if given["datatype"] == "BYTES":
        return np.array([text.encode() for text in given["value"]], dtype=np.object_)
    return np.array(given["value"], dtype=triton_to_np_dtype(given["datatype"]))


def _plain(array: np.ndarray) -> dict:
    if array.dtype == np.object_:
        return {"value": [item.decode() for item in array.reshape(-1)], "dtype": "object", "shape": list(array.shape)}
    return {"value": array.tolist(), "dtype": array.dtype.name, "shape": list(array.shape)}


def _infer_args(call: dict) -> tuple[list, list | None]:
    inputs = []
    for name, given in call["inputs"].items():
        array = _array(given)
        tensor = grpcclient.InferInput(name, list(array.shape), given["datatype"])
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    outputs = [grpcclient.InferRequestedOutput(name) for name in call.get("outputs", [])] or None
    return inputs, outputs


def _infer_answer(result) -> dict:
    response = result.get_response()
    return {
        "model_name": response.model_name, "model_version": response.model_version, "id": response.id,
        "outputs": {output.name: _plain(result.as_numpy(output.name)) for output in response.outputs},
    }


def infer(client: grpcclient.InferenceServerClient, call: dict) -> dict:
    inputs, outputs = _infer_args(call)
    options = {"model_version": call.get("version", ""), "outputs": outputs, "request_id": call.get("id", "")}
    if not call.get("async"):
        return _infer_answer(client.infer(call["model"], inputs, **options))
    done: queue.Queue = queue.Queue()
    client.async_infer(call["model"], inputs, lambda result, error: done.put((result, error)), **options)
    result, error = done.get(timeout=120)
    if error is not None:
        raise error
    return _infer_answer(result)


def _index(answer: dict) -> dict:
    """The index as JSON; proto3's JSON leaves empty strings out (no version, no reason): given back as ""."""
    fields = ("name", "version", "state", "reason")
    return {"models": [{field: row.get(field, "") for field in fields} for row in answer.get("models", [])]}


def run_sync(target: str, calls: list[dict]) -> list[dict]:
    client = grpcclient.InferenceServerClient(target)
    table = {
        "live": lambda c: {"live": client.is_server_live()},
        "ready": lambda c: {"ready": client.is_server_ready()},
        "server_metadata": lambda c: client.get_server_metadata(as_json=True),
        "model_ready": lambda c: {"ready": client.is_model_ready(c["model"], c.get("version", ""))},
        "metadata": lambda c: client.get_model_metadata(c["model"], c.get("version", ""), as_json=True),
        "config": lambda c: client.get_model_config(c["model"], c.get("version", ""), as_json=True),
        "infer": lambda c: infer(client, c),
        "index": lambda c: _index(client.get_model_repository_index(as_json=True)),
        "load": lambda c: client.load_model(c["model"], config=c.get("config")) or {"loaded": c["model"]},
        "unload": lambda c: client.unload_model(c["model"]) or {"unloaded": c["model"]},
    }
    results = []
    for call in calls:
        try:
            results.append(table[call["call"]](call))
        except InferenceServerException as error:
            results.append({"error": {"status": error.status(), "message": error.message()}})
    client.close()
    return results


async def _aio_call(client: grpc_aio.InferenceServerClient, call: dict) -> dict:
    kind, model, version = call["call"], call.get("model", ""), call.get("version", "")
    if kind == "live":
        return {"live": await client.is_server_live()}
    if kind == "ready":
        return {"ready": await client.is_server_ready()}
    if kind == "server_metadata":
        return await client.get_server_metadata(as_json=True)
    if kind == "model_ready":
        return {"ready": await client.is_model_ready(model, version)}
    if kind == "metadata":
        return await client.get_model_metadata(model, version, as_json=True)
    if kind == "config":
        return await client.get_model_config(model, version, as_json=True)
    if kind == "index":
        return _index(await client.get_model_repository_index(as_json=True))
    if kind == "load":
        await client.load_model(model, config=call.get("config"))
        return {"loaded": model}
    if kind == "unload":
        await client.unload_model(model)
        return {"unloaded": model}
    inputs, outputs = _infer_args(call)
    return _infer_answer(await client.infer(model, inputs, model_version=version, outputs=outputs,
                                            request_id=call.get("id", "")))


async def run_aio(target: str, calls: list[dict]) -> list[dict]:
    client = grpc_aio.InferenceServerClient(target)
    results = []
    try:
        for call in calls:
            try:
                results.append(await _aio_call(client, call))
            except InferenceServerException as error:
                results.append({"error": {"status": error.status(), "message": error.message()}})
    finally:
        await client.close()
    return results


def main() -> None:
    job = json.load(sys.stdin)
    if job.get("aio"):
        results = asyncio.run(run_aio(job["target"], job["calls"]))
    else:
        results = run_sync(job["target"], job["calls"])
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
