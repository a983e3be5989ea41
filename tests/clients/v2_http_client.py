"""Calls a running server with the official ``tritonclient.http`` client, unmodified (run it with .venv-v2clients' Python).

tritonclient and kserve pin conflicting packages, so each runs in its own
process of that venv. stdin: ``{"url": "host:port", "aio": false, "calls": [...]}``, each call::

    {"call": "infer", "model": "m", "version": "2", "binary_in": true, "binary_out": true,
     "outputs": ["y"], "inputs": {"x": {"value": [[1.0]], "dtype": "float32", "datatype": "FP32"}}}
    {"call": "health"}  {"call": "metadata", "model": "m"}  {"call": "config", "model": "m", "version": "1"}
    {"call": "model_ready", "model": "m"}  {"call": "index"}  {"call": "unload", "model": "m"}
    {"call": "load", "model": "m", "config": "{...}"}

("version", "outputs" and a load's "config" are optional; without "outputs" tritonclient asks for every output,
with binary_data_output as it does by default.) BYTES values are lists of strings.
stdout: ``{"results": [...]}``; a refused call gives ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
import tritonclient.http as http
import tritonclient.http.aio as http_aio
from tritonclient.utils import InferenceServerException


def _inputs(call: dict) -> list:
    inputs = []
    for name, given in call["inputs"].items():
        dtype = object if given["datatype"] == "BYTES" else given["dtype"]
        value = np.array([v.encode() for v in given["value"]], dtype=object) if dtype is object else np.array(given["value"], dtype)
        item = http.InferInput(name, list(value.shape), given["datatype"])
        item.set_data_from_numpy(value, binary_data=call.get("binary_in", True))
        inputs.append(item)
    return inputs


def _outputs(call: dict) -> list | None:
    if "outputs" not in call:
        return None
    return [http.InferRequestedOutput(name, binary_data=call.get("binary_out", True)) for name in call["outputs"]]


def _result(result, names: list[str] | None) -> dict:
    answer = result.get_response()
    outputs = {}
    for output in answer["outputs"]:
        array = result.as_numpy(output["name"])
        value = [v.decode() if isinstance(v, bytes) else v for v in array.ravel()] if array.dtype == object else array.tolist()
        outputs[output["name"]] = {"value": value, "dtype": array.dtype.name, "shape": list(array.shape)}
    return {"model_version": answer.get("model_version"), "outputs": outputs}


def run_sync(url: str, calls: list[dict]) -> list[dict]:
    client = http.InferenceServerClient(url=url)
    results = []
    for call in calls:
        try:
            if call["call"] == "health":
                results.append({"live": client.is_server_live(), "ready": client.is_server_ready(),
                                "metadata": client.get_server_metadata()})
            elif call["call"] == "metadata":
                results.append({"ready": client.is_model_ready(call["model"], call.get("version", "")),
                                "metadata": client.get_model_metadata(call["model"], call.get("version", ""))})
            elif call["call"] == "config":
                results.append({"config": client.get_model_config(call["model"], call.get("version", ""))})
            elif call["call"] == "model_ready":
                results.append({"ready": client.is_model_ready(call["model"], call.get("version", ""))})
            elif call["call"] == "index":
                results.append({"index": client.get_model_repository_index()})
            elif call["call"] == "load":
                client.load_model(call["model"], config=call.get("config"))
                results.append({"loaded": call["model"]})
            elif call["call"] == "unload":
                client.unload_model(call["model"])
                results.append({"unloaded": call["model"]})
            elif call.get("async"):
                pending = client.async_infer(call["model"], _inputs(call), model_version=call.get("version", ""),
                                             outputs=_outputs(call))
                results.append(_result(pending.get_result(), call.get("outputs")))
            else:
                result = client.infer(call["model"], _inputs(call), model_version=call.get("version", ""), outputs=_outputs(call))
                results.append(_result(result, call.get("outputs")))
        except InferenceServerException as exc:
            results.append({"error": exc.message(), "status": exc.status()})
    client.close()
    return results


async def run_aio(url: str, calls: list[dict]) -> list[dict]:
    client = http_aio.InferenceServerClient(url=url)
    results = []
    try:
        for call in calls:
            try:
                if call["call"] == "health":
                    results.append({"live": await client.is_server_live(), "ready": await client.is_server_ready(),
                                    "metadata": await client.get_server_metadata()})
                elif call["call"] == "metadata":
                    results.append({"ready": await client.is_model_ready(call["model"], call.get("version", "")),
                                    "metadata": await client.get_model_metadata(call["model"], call.get("version", ""))})
                elif call["call"] == "config":
                    results.append({"config": await client.get_model_config(call["model"], call.get("version", ""))})
                elif call["call"] == "model_ready":
                    results.append({"ready": await client.is_model_ready(call["model"], call.get("version", ""))})
                elif call["call"] == "index":
                    results.append({"index": await client.get_model_repository_index()})
                elif call["call"] == "load":
                    await client.load_model(call["model"], config=call.get("config"))
                    results.append({"loaded": call["model"]})
                elif call["call"] == "unload":
                    await client.unload_model(call["model"])
                    results.append({"unloaded": call["model"]})
                else:
                    result = await client.infer(call["model"], _inputs(call), model_version=call.get("version", ""),
                                                outputs=_outputs(call))
                    results.append(_result(result, call.get("outputs")))
            except InferenceServerException as exc:
                results.append({"error": exc.message(), "status": exc.status()})
    finally:
        await client.close()
    return results


def main() -> None:
    request = json.load(sys.stdin)
    if request.get("aio"):
        results = asyncio.run(run_aio(request["url"], request["calls"]))
    else:
        results = run_sync(request["url"], request["calls"])
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
