"""Calls a running server with the official ``kserve`` clients, unmodified (run it with ``.venv-v2clients``' Python).

``kserve.InferenceRESTClient`` (``RESTConfig(protocol="v2")``: its default is
v1) or ``kserve.InferenceGRPCClient``, one per process. stdin: one JSON object
``{"transport": "rest", "url": "http://host:port", "calls": [...]}`` or
``{"transport": "grpc", "target": "host:port", "calls": [...]}``, each call one of::

    {"call": "live"}  {"call": "ready"}  {"call": "model_ready", "model": "m"}
    {"call": "server_metadata"}  {"call": "metadata", "model": "m", "version": "2"}
    {"call": "infer", "model": "m", "version": "2", "id": "r1", "outputs": {"y": {"binary_data": true}},
     "inputs": {"x": {"value": [[1.0, 2.0]], "datatype": "FP32", "form": "numpy"}}}

An input's ``form`` says how the kserve ``InferInput`` gets its values:
``numpy`` is ``set_data_from_numpy(binary_data=True)`` (binary REST, raw gRPC),
``numpy_json`` is ``set_data_from_numpy(binary_data=False)`` and ``list`` is
``InferInput(data=[...])`` (JSON ``data`` on REST, typed contents on gRPC), and
``ndarray`` is ``InferInput(data=np.ndarray)`` (kserve turns it into JSON on REST,
raw on gRPC). The clients have no metadata calls: metadata comes from kserve's
own generated gRPC stub, or over REST from a GET parsed by kserve's own v2
pydantic models. A version over REST goes through ``infer(is_graph_endpoint=True)``
with the version's URL, since the REST client's URL has no version.
stdout: ``{"results": [...]}``, one per call; a refused call gives
``{"error": {"status": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import grpc
import httpx
import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, InferResponse, RESTConfig
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from kserve.protocol.infer_type import RequestedOutput
from kserve.protocol.rest import v2_datamodels
from kserve.utils.numpy_codec import to_np_dtype


def _array(given: dict) -> np.ndarray:
    if given["datatype"] == "BYTES":
        return np.array([text.encode() for text in given["value"]], dtype=np.object_)
    return np.array(given["value"], dtype=to_np_dtype(given["datatype"]))


def _request(call: dict) -> InferRequest:
    inputs = []
    for name, given in call["inputs"].items():
        array = _array(given)
        form = given.get("form", "numpy")
        if form == "list":
            values = [v for v in array.reshape(-1).tolist()] if array.dtype != np.object_ else list(given["value"])
            inputs.append(InferInput(name, list(array.shape), given["datatype"], data=values))
        elif form == "ndarray":
            inputs.append(InferInput(name, list(array.shape), given["datatype"], data=array))
        else:
            tensor = InferInput(name, list(array.shape), given["datatype"])
            tensor.set_data_from_numpy(array, binary_data=form == "numpy")
            inputs.append(tensor)
    outputs = [RequestedOutput(name, parameters or None) for name, parameters in call.get("outputs", {}).items()] or None
    return InferRequest(call["model"], inputs, request_id=call.get("id"), request_outputs=outputs,
                        model_version=call.get("version"))


def _plain(response: InferResponse) -> dict:
    outputs = {}
    for output in response.outputs:
        array = output.as_numpy()
        if array.dtype == np.object_:
            value = [v.decode() if isinstance(v, bytes) else v for v in array.reshape(-1)]
        else:
            value = array.tolist()
        outputs[output.name] = {"value": value, "dtype": array.dtype.name, "shape": list(array.shape),
                                "datatype": output.datatype}
    return {"model_name": response.model_name, "model_version": response.model_version, "id": response.id,
            "outputs": outputs}


async def run_rest(url: str, calls: list[dict]) -> list[dict]:
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
    raw = httpx.AsyncClient(base_url=url, timeout=60)
    results = []
    for call in calls:
        kind = call["call"]
        try:
            if kind == "live":
                results.append({"live": await client.is_server_live(url)})
            elif kind == "ready":
                results.append({"ready": await client.is_server_ready(url)})
            elif kind == "model_ready":
                results.append({"ready": await client.is_model_ready(url, call["model"])})
            elif kind == "server_metadata":
                answer = await raw.get("/v2")
                answer.raise_for_status()
                results.append(v2_datamodels.ServerMetadataResponse.model_validate_json(answer.content).model_dump())
            elif kind == "metadata":
                path = f"/v2/models/{call['model']}" + (f"/versions/{call['version']}" if "version" in call else "")
                answer = await raw.get(path)
                answer.raise_for_status()
                results.append(v2_datamodels.ModelMetadataResponse.model_validate_json(answer.content).model_dump())
                ready = await raw.get(path + "/ready")
                ready.raise_for_status()
                results[-1]["ready"] = v2_datamodels.ModelReadyResponse.model_validate_json(ready.content).model_dump()
            elif kind == "infer" and "version" in call:
                versioned = f"{url}/v2/models/{call['model']}/versions/{call['version']}/infer"
                # The graph form posts to the URL as given and returns the JSON answer as a dict.
                document = await client.infer(versioned, _request(call), model_name=call["model"], is_graph_endpoint=True)
                results.append(_plain(InferResponse.from_rest(document)) | {"model_version": document.get("model_version")})
            elif kind == "infer":
                results.append(_plain(await client.infer(url, _request(call), model_name=call["model"])))
            else:
                raise ValueError(f"unknown call {kind!r}")
        except httpx.HTTPStatusError as exc:
            results.append({"error": {"status": exc.response.status_code, "message": str(exc),
                                      "content_type": exc.response.headers.get("content-type")}})
    await client.close()
    await raw.aclose()
    return results


async def run_grpc(target: str, calls: list[dict]) -> list[dict]:
    client = InferenceGRPCClient(target, timeout=60)
    channel = grpc.aio.insecure_channel(target)
    stub = GRPCInferenceServiceStub(channel)
    results = []
    for call in calls:
        kind = call["call"]
        try:
            if kind == "live":
                results.append({"live": await client.is_server_live()})
            elif kind == "ready":
                results.append({"ready": await client.is_server_ready()})
            elif kind == "model_ready":
                results.append({"ready": await client.is_model_ready(call["model"])})
            elif kind == "server_metadata":
                answer = await stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=60)
                results.append({"name": answer.name, "version": answer.version, "extensions": list(answer.extensions)})
            elif kind == "metadata":
                answer = await stub.ModelMetadata(pb.ModelMetadataRequest(name=call["model"], version=call.get("version", "")),
                                                  timeout=60)
                results.append({"name": answer.name, "versions": list(answer.versions), "platform": answer.platform,
                                 "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in answer.inputs],
                                 "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)}
                                             for t in answer.outputs]})
            elif kind == "infer":
                results.append(_plain(await client.infer(_request(call))))
            else:
                raise ValueError(f"unknown call {kind!r}")
        except grpc.RpcError as exc:
            results.append({"error": {"status": str(exc.code()), "message": exc.details()}})
    await client.close()
    await channel.close()
    return results


def main() -> None:
    job = json.load(sys.stdin)
    if job["transport"] == "rest":
        results = asyncio.run(run_rest(job["url"], job["calls"]))
    else:
        results = asyncio.run(run_grpc(job["target"], job["calls"]))
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
