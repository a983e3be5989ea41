"""One call of each counted method, over each API and interface, against a [1, 10] f32 model on a real server.

Keyed by OVMS's metric labels (api, interface, method), so a test can make a
known number of each and compare with what ``/metrics`` counted. ``good``
calls succeed; ``bad`` calls fail on the input (a wrong shape), after the
model version has been found, so OVMS counts them as failures of that version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import httpx
import numpy as np

from ovserve.handler.protos import grpc_service_pb2 as v2pb
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests.grpc_generated import grpc_service_pb2_grpc, serving_services_pb2_grpc

TFS, KSERVE, REST, GRPC = "TensorFlowServing", "KServe", "REST", "gRPC"
TIMEOUT = 30
ROW = [float(i) for i in range(10)]


@dataclass
class Clients:
    """An httpx client on the REST port and stubs on the gRPC port of one server."""

    http: httpx.Client
    predictions: serving_services_pb2_grpc.PredictionServiceStub
    model_service: serving_services_pb2_grpc.ModelServiceStub
    v2: grpc_service_pb2_grpc.GRPCInferenceServiceStub

    @classmethod
    def of(cls, http: httpx.Client, channel: grpc.Channel) -> Clients:
        return cls(http, serving_services_pb2_grpc.PredictionServiceStub(channel), serving_services_pb2_grpc.ModelServiceStub(channel),
                   grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel))


def tfs_request(model: str, columns: int = 10) -> serving_apis_pb2.PredictRequest:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    tensor = tensor_pb2.TensorProto(dtype=1, tensor_content=np.ones((1, columns), np.float32).tobytes())
    tensor.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in (1, columns)])
    request.inputs["x"].CopyFrom(tensor)
    return request


def v2_request(model: str, columns: int = 10, request_id: str = "") -> v2pb.ModelInferRequest:
    request = v2pb.ModelInferRequest(model_name=model, id=request_id)
    request.inputs.add(name="x", datatype="FP32", shape=[1, columns])
    request.raw_input_contents.append(np.ones((1, columns), np.float32).tobytes())
    return request


def v2_json(columns: int = 10) -> dict:
    return {"inputs": [{"name": "x", "shape": [1, columns], "datatype": "FP32", "data": ROW[:columns]}]}


def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text


def _grpc_refused(call: Callable[[], object]) -> None:
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        return
    raise AssertionError("the call succeeded")


def good(model: str) -> dict[tuple[str, str, str], Callable[[Clients], object]]:
    """A successful call per counted (api, interface, method)."""
    return {
        (TFS, REST, "Predict"): lambda c: _ok(c.http.post(f"/v1/models/{model}:predict", json={"instances": [ROW]})),
        (TFS, REST, "GetModelMetadata"): lambda c: _ok(c.http.get(f"/v1/models/{model}/metadata")),
        (TFS, REST, "GetModelStatus"): lambda c: _ok(c.http.get(f"/v1/models/{model}")),
        (KSERVE, REST, "ModelInfer"): lambda c: _ok(c.http.post(f"/v2/models/{model}/infer", json=v2_json())),
        (KSERVE, REST, "ModelMetadata"): lambda c: _ok(c.http.get(f"/v2/models/{model}")),
        (KSERVE, REST, "ModelReady"): lambda c: _ok(c.http.get(f"/v2/models/{model}/ready")),
        (TFS, GRPC, "Predict"): lambda c: c.predictions.Predict(tfs_request(model), timeout=TIMEOUT),
        (TFS, GRPC, "GetModelMetadata"): lambda c: c.predictions.GetModelMetadata(_metadata_request(model), timeout=TIMEOUT),
        (TFS, GRPC, "GetModelStatus"): lambda c: c.model_service.GetModelStatus(_status_request(model), timeout=TIMEOUT),
        (KSERVE, GRPC, "ModelInfer"): lambda c: c.v2.ModelInfer(v2_request(model), timeout=TIMEOUT),
        (KSERVE, GRPC, "ModelMetadata"): lambda c: c.v2.ModelMetadata(v2pb.ModelMetadataRequest(name=model), timeout=TIMEOUT),
        (KSERVE, GRPC, "ModelReady"): lambda c: c.v2.ModelReady(v2pb.ModelReadyRequest(name=model), timeout=TIMEOUT),
    }


def bad(model: str) -> dict[tuple[str, str, str], Callable[[Clients], object]]:
    """A call per inference method that fails on its input (3 columns for a [1, 10] input)."""
    return {
        (TFS, REST, "Predict"): lambda c: _refused(c.http.post(f"/v1/models/{model}:predict", json={"instances": [ROW[:3]]})),
        (KSERVE, REST, "ModelInfer"): lambda c: _refused(c.http.post(f"/v2/models/{model}/infer", json=v2_json(3))),
        (TFS, GRPC, "Predict"): lambda c: _grpc_refused(lambda: c.predictions.Predict(tfs_request(model, 3), timeout=TIMEOUT)),
        (KSERVE, GRPC, "ModelInfer"): lambda c: _grpc_refused(lambda: c.v2.ModelInfer(v2_request(model, 3), timeout=TIMEOUT)),
    }


def _metadata_request(model: str) -> serving_apis_pb2.GetModelMetadataRequest:
    request = serving_apis_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = model
    return request


def _status_request(model: str) -> serving_apis_pb2.GetModelStatusRequest:
    request = serving_apis_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    return request
