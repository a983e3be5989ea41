"""The standalone server at its edges: percent-encoded paths, oversized heads, and memory that runs out.

One real server (module scope) serves ``add`` (x + 1, [1, 10]), ``my.model-1``
(the same model under a name with every punctuation mark config.json allows)
and ``zeros`` (broadcast_zeros: its output's shape is its input's values, so
``[1000000, 1000000]`` makes OpenVINO fail to allocate 4 TB without touching
any memory). Every check ends by asking a good request of the same model.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc
from tests.serverproc import Server, serving

ADD_X = [[float(i) for i in range(10)]]
HEAD_LIMIT = 8192  # Sanic's REQUEST_MAX_HEADER_SIZE, which the server keeps


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    builders = {"add": models.add_one(), "my.model-1": models.add_one(value=2.0), "zeros": models.broadcast_zeros()}
    with serving(tmp_path_factory.mktemp("rest_paths"), builders) as started:
        yield started


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


def assert_add_serves(server: Server) -> None:
    assert server.process.poll() is None, server.read_log()
    response = server.client.post("/v1/models/add:predict", json={"inputs": ADD_X})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"], np.array(ADD_X) + 1)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/models/add%3Apredict", "outputs"),
        ("POST", "/v1/models/add/versions/1%3apredict", "outputs"),
        ("POST", "/v1/models/%61dd:predict", "outputs"),
        ("GET", "/v1/models/add%2Fmetadata", "metadata"),
        ("GET", "/v1/models/my%2Emodel%2D1", "model_version_status"),
        ("GET", "/v1/models/my.model-1/versions/1", "model_version_status"),
    ],
)
def test_percent_encoded_paths_reach_the_model(server: Server, method: str, path: str, expected: str) -> None:
    response = server.client.request(method, path, json={"inputs": ADD_X} if method == "POST" else None)
    assert response.status_code == 200, (path, response.text[:300])
    assert expected in response.json()
    assert_add_serves(server)


def test_a_decoded_action_is_routed_like_a_plain_one(server: Server) -> None:
    assert "takes POST" in error_of(server.client.get("/v1/models/add%3Apredict"), 405)
    assert "':classify' is not available" in error_of(server.client.post("/v1/models/add%3Aclassify", json={}), 404)
    answer = server.client.post("/v1/models/my%2Emodel%2D1%3Apredict", json={"inputs": ADD_X})
    assert answer.status_code == 200 and answer.json()["outputs"] == (np.array(ADD_X) + 2).tolist()


def test_paths_that_are_not_percent_encoded_utf8_are_a_400(server: Server) -> None:
    message = error_of(server.client.get("/v1/models/caf%E9"), 400)
    assert "percent-encoded UTF-8" in message and "caf%E9" in message
    assert_add_serves(server)


def test_an_unknown_decoded_name_is_named_decoded(server: Server) -> None:
    assert "Model 'no such' not found" in error_of(server.client.get("/v1/models/no%20such"), 404)


def test_oversized_headers_are_a_431_naming_the_real_limit(server: Server) -> None:
    response = server.client.get("/v1/models/add", headers={"X-Big": "a" * (HEAD_LIMIT + 2000)})
    message = error_of(response, 431)
    assert f"{HEAD_LIMIT} bytes" in message and "rest_max_body_mb" not in message
    assert_add_serves(server)


def test_an_oversized_url_is_a_414_naming_the_real_limit(server: Server) -> None:
    response = server.client.get("/v1/models/add", params={"q": "a" * (HEAD_LIMIT + 2000)})
    message = error_of(response, 414)
    assert f"{HEAD_LIMIT} bytes" in message and "rest_max_body_mb" not in message
    assert_add_serves(server)


def zeros_request(shape: list[int]) -> serving_apis_pb2.PredictRequest:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = "zeros"
    tensor_proto.fill(request.inputs["shape"], np.array(shape, dtype=np.int64))
    return request


def test_running_out_of_memory_is_503_and_resource_exhausted_and_the_model_recovers(server: Server) -> None:
    good = {"inputs": [2, 3]}
    for _ in range(4):  # every inference slot has served [2, 3] before the failed allocation
        assert server.client.post("/v1/models/zeros:predict", json=good).json() == {"outputs": [[0.0] * 3] * 2}
    message = error_of(server.client.post("/v1/models/zeros:predict", json={"inputs": [1_000_000, 1_000_000]}), 503)
    assert "out of memory" in message and "4000000000000 bytes" in message
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = serving_services_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(zeros_request([1_000_000, 1_000_000]), timeout=60)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "out of memory" in caught.value.details() and "4000000000000 bytes" in caught.value.details()
        reply = stub.Predict(zeros_request([2, 3]), timeout=60)
        assert tensor_proto.to_array("zeros", reply.outputs["zeros"]).shape == (2, 3)
    for _ in range(4):  # recompiled: whichever slot answers, the good request succeeds
        assert server.client.post("/v1/models/zeros:predict", json=good).json() == {"outputs": [[0.0] * 3] * 2}
    message = error_of(server.client.post("/v1/models/zeros:predict", json={"inputs": [-1, 3]}), 400)
    assert "inference failed for this input" in message and "out of memory" not in message
