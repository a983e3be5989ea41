"""The official ``tritonclient.grpc``, unmodified, against a real server: health, metadata, config, infer.

tritonclient pins protobuf < 7 and registers ``inference.*`` in the default pool, so it runs in
``.venv-v2clients`` (``tests/clients/v2_grpc_client.py``), once per way of calling (``MODES``: the
sync client, its callback ``async_infer``, and ``tritonclient.grpc.aio``), for all the calls of this module.
Answers are compared with in-process OpenVINO on the same model objects.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest

from tests import models
from tests.clients import REPO, v2_python
from tests.serverproc import Server, live_until_done, write_config

CLIENT = REPO / "tests" / "clients" / "v2_grpc_client.py"
RNG = np.random.default_rng(14)
X = RNG.uniform(-10, 10, size=(1, 10)).astype(np.float32)
A = RNG.uniform(-10, 10, size=(2, 3)).astype(np.float32)
B = RNG.uniform(-10, 10, size=(2, 3)).astype(np.float32)
H = np.array([0.5, -3, 1024, 0.099975586], dtype=np.float16)
MODELS = {"add": models.add_one(), "two": models.two_in_two_out(), "half": models.half_double(), "echo": models.strings_echo()}


def fp32(array: np.ndarray) -> dict:
    return {"value": array.tolist(), "datatype": "FP32"}


CALLS = [
    {"call": "live"},
    {"call": "ready"},
    {"call": "server_metadata"},
    {"call": "model_ready", "model": "two"},
    {"call": "model_ready", "model": "versions", "version": "2"},
    {"call": "model_ready", "model": "versions", "version": "5"},
    {"call": "metadata", "model": "versions"},
    {"call": "config", "model": "two"},
    {"call": "infer", "model": "two", "id": "r-1", "inputs": {"a": fp32(A), "b": fp32(B)}},
    {"call": "infer", "model": "two", "outputs": ["product"], "inputs": {"a": fp32(A), "b": fp32(B)}},
    {"call": "infer", "model": "versions", "version": "1", "inputs": {"x": fp32(X)}},
    {"call": "infer", "model": "versions", "inputs": {"x": fp32(X)}},
    {"call": "infer", "model": "half", "inputs": {"h": {"value": H.tolist(), "datatype": "FP16"}}},
    {"call": "infer", "model": "echo", "inputs": {"text": {"value": ["hello", "w\u00f6rld", ""], "datatype": "BYTES"}}},
    {"call": "infer", "model": "two", "inputs": {"a": fp32(A), "b": {"value": (A > 0).tolist(), "datatype": "BOOL"}}},
    {"call": "infer", "model": "nope", "inputs": {"x": fp32(X)}},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("tritonclient_grpc")
    write_config(root, MODELS, with_versions=True)
    yield from live_until_done(Server(["--config_path", str(root / "config.json")], log_path=root / "server.log"))


# How the client makes the calls: the sync client, its async_infer (callback form) for the infers, tritonclient.grpc.aio.
MODES = {
    "sync": ({}, {}),
    "async_infer": ({}, {"async": True}),
    "aio": ({"aio": True}, {}),
}


@pytest.fixture(scope="module", params=list(MODES))
def results(request: pytest.FixtureRequest, server: Server) -> list[dict]:
    job_options, infer_options = MODES[request.param]
    calls = [{**call, **infer_options} if call["call"] == "infer" else call for call in CALLS]
    job = json.dumps({"target": server.grpc_target, "calls": calls, **job_options})
    done = subprocess.run([v2_python(), str(CLIENT)], input=job, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["results"]


def answer(results: list[dict], index: int) -> dict:
    result = results[index]
    assert "error" not in result, result
    return result


def test_health_and_server_metadata(results):
    assert [answer(results, i) for i in (0, 1)] == [{"live": True}, {"ready": True}]
    metadata = answer(results, 2)
    assert metadata["name"] == "ovserve" and metadata["extensions"] == ["binary_tensor_data", "model_configuration", "model_repository"]
    assert answer(results, 3) == {"ready": True} and answer(results, 4) == {"ready": True}
    assert results[5]["error"]["status"] == "StatusCode.NOT_FOUND"


def test_model_metadata_and_config(results):
    metadata = answer(results, 6)
    assert (metadata["name"], metadata["versions"], metadata["platform"]) == ("versions", ["1", "2"], "openvino")
    assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["1", "10"]}]  # int64 as JSON strings
    config = answer(results, 7)["config"]
    assert [(t["name"], t["data_type"], t["dims"]) for t in config["input"]] == [
        ("a", "TYPE_FP32", ["-1", "3"]), ("b", "TYPE_FP32", ["-1", "3"])
    ]


def test_infer_fp32_with_id_and_output_filter(results):
    expected = models.reference_model_answer(MODELS["two"], {"a": A, "b": B})
    full = answer(results, 8)
    assert (full["model_name"], full["model_version"], full["id"]) == ("two", "1", "r-1")
    assert list(full["outputs"]) == ["sum", "product"]
    for name, output in full["outputs"].items():
        np.testing.assert_array_equal(np.array(output["value"], dtype=np.float32), expected[name])
    filtered = answer(results, 9)
    assert list(filtered["outputs"]) == ["product"]
    np.testing.assert_array_equal(np.array(filtered["outputs"]["product"]["value"], dtype=np.float32), expected["product"])


def test_infer_a_specific_version_and_the_default(results):
    one, default = answer(results, 10), answer(results, 11)
    assert (one["model_version"], default["model_version"]) == ("1", "2")
    np.testing.assert_array_equal(np.array(one["outputs"]["y"]["value"], dtype=np.float32),
                                  models.reference_model_answer(models.add_one(value=1.0), {"x": X})["y"])
    np.testing.assert_array_equal(np.array(default["outputs"]["y"]["value"], dtype=np.float32),
                                  models.reference_model_answer(models.add_one(value=2.0), {"x": X})["y"])


def test_infer_fp16_and_bytes(results):
    half = answer(results, 12)["outputs"]["doubled"]
    assert half["dtype"] == "float16"
    np.testing.assert_array_equal(np.array(half["value"], dtype=np.float16),
                                  models.reference_model_answer(MODELS["half"], {"h": H})["doubled"])
    assert answer(results, 13)["outputs"]["text"] == {"value": ["hello", "w\u00f6rld", ""], "dtype": "object", "shape": [3]}


def test_errors_reach_the_client_with_their_codes(results):
    assert results[14]["error"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert "Invalid data type for input 'b'" in results[14]["error"]["message"]
    assert results[15]["error"]["status"] == "StatusCode.NOT_FOUND"
    assert "Model 'nope' not found" in results[15]["error"]["message"]
