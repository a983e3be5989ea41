"""The official ``kserve`` clients, unmodified, against a real server: ``InferenceRESTClient`` (v2) and ``InferenceGRPCClient``.

kserve cannot share the test venv or a process with tritonclient, so
``tests/clients/v2_kserve_client.py`` runs in ``.venv-v2clients``, one process per
transport, once for all the calls of this module. kserve mixes forms inside one
request (numpy arrays go binary or raw, lists go as JSON ``data`` or typed gRPC
contents), so the same request is sent in every form; answers are compared with
in-process OpenVINO on the same model objects.
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

CLIENT = REPO / "tests" / "clients" / "v2_kserve_client.py"
RNG = np.random.default_rng(1414)
X = RNG.uniform(-10, 10, size=(1, 10)).astype(np.float32)
A = RNG.uniform(-10, 10, size=(2, 3)).astype(np.float32)
B = RNG.uniform(-10, 10, size=(2, 3)).astype(np.float32)
MODELS = {"two": models.two_in_two_out(), "echo": models.strings_echo()}
FORMS = ("numpy", "numpy_json", "list", "ndarray")


def fp32(array: np.ndarray, form: str) -> dict:
    return {"value": array.tolist(), "datatype": "FP32", "form": form}


def calls(transport: str) -> list[dict]:
    binary = {"binary_data": True} if transport == "rest" else {}
    return [
        {"call": "live"},
        {"call": "ready"},
        {"call": "model_ready", "model": "two"},
        {"call": "model_ready", "model": "nope"},
        {"call": "server_metadata"},
        {"call": "metadata", "model": "versions", "version": "1"},
        {"call": "metadata", "model": "two"},
        # one request per pair of forms: a in one, b in the next, so every mix occurs
        *({"call": "infer", "model": "two", "id": f"r-{form}",
           "inputs": {"a": fp32(A, form), "b": fp32(B, FORMS[(i + 1) % len(FORMS)])}} for i, form in enumerate(FORMS)),
        {"call": "infer", "model": "two", "outputs": {"product": binary}, "inputs": {"a": fp32(A, "numpy"), "b": fp32(B, "list")}},
        {"call": "infer", "model": "versions", "version": "1", "inputs": {"x": fp32(X, "numpy")}},
        {"call": "infer", "model": "versions", "inputs": {"x": fp32(X, "list")}},
        {"call": "infer", "model": "echo", "inputs": {"text": {"value": ["hello", "w\u00f6rld", ""], "datatype": "BYTES",
                                                                "form": "numpy"}}},
        {"call": "infer", "model": "echo", "inputs": {"text": {"value": ["typed", "ok"], "datatype": "BYTES", "form": "list"}}},
        {"call": "infer", "model": "two", "inputs": {"a": fp32(A, "numpy"),
                                                      "b": {"value": (A > 0).tolist(), "datatype": "BOOL", "form": "numpy"}}},
        {"call": "infer", "model": "nope", "inputs": {"x": fp32(X, "numpy")}},
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("kserve_clients")
    write_config(root, MODELS, with_versions=True)
    yield from live_until_done(Server(["--config_path", str(root / "config.json")], log_path=root / "server.log"))


@pytest.fixture(scope="module", params=["rest", "grpc"])
def results(request: pytest.FixtureRequest, server: Server) -> tuple[str, list[dict]]:
    transport = request.param
    address = {"url": server.url} if transport == "rest" else {"target": server.grpc_target}
    job = json.dumps({"transport": transport, **address, "calls": calls(transport)})
    done = subprocess.run([v2_python(), str(CLIENT)], input=job, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    return transport, json.loads(done.stdout)["results"]


def answer(results: list[dict], index: int) -> dict:
    result = results[index]
    assert "error" not in result, result
    return result


def test_health_and_readiness(results):
    transport, got = results
    assert [answer(got, i) for i in range(3)] == [{"live": True}, {"ready": True}, {"ready": True}]
    if transport == "rest":
        assert got[3] == {"ready": False}  # the REST client returns is_success: 404 is False
    else:
        assert got[3]["error"]["status"] == "StatusCode.NOT_FOUND"


def test_server_and_model_metadata(results):
    transport, got = results
    server = answer(got, 4)
    assert server["name"] == "ovserve" and server["version"]
    assert server["extensions"] == ["binary_tensor_data", "model_configuration", "model_repository"]
    one = answer(got, 5)
    assert (one["name"], one["versions"], one["platform"]) == ("versions", ["1", "2"], "openvino")
    assert one["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [1, 10]}]
    if transport == "rest":
        assert one["ready"] == {"name": "versions", "ready": True}
    two = answer(got, 6)
    assert [t["name"] for t in two["inputs"]] == ["a", "b"] and [t["name"] for t in two["outputs"]] == ["sum", "product"]
    assert two["inputs"][0] == {"name": "a", "datatype": "FP32", "shape": [-1, 3]}


def test_infer_fp32_in_every_form_and_mix(results):
    transport, got = results
    expected = models.reference_model_answer(MODELS["two"], {"a": A, "b": B})
    for i, form in enumerate(FORMS):
        result = answer(got, 7 + i)
        assert (result["model_name"], result["id"]) == ("two", f"r-{form}"), form
        if transport == "grpc":  # kserve's REST parser drops model_version (kserve#6111)
            assert result["model_version"] == "1"
        assert list(result["outputs"]) == ["sum", "product"]
        for name, output in result["outputs"].items():
            assert (output["datatype"], output["dtype"], output["shape"]) == ("FP32", "float32", [2, 3])
            np.testing.assert_array_equal(np.array(output["value"], dtype=np.float32), expected[name], err_msg=f"{form} {name}")


def test_infer_output_filter(results):
    _, got = results
    expected = models.reference_model_answer(MODELS["two"], {"a": A, "b": B})
    filtered = answer(got, 11)
    assert list(filtered["outputs"]) == ["product"]
    np.testing.assert_array_equal(np.array(filtered["outputs"]["product"]["value"], dtype=np.float32), expected["product"])


def test_infer_a_specific_version_and_the_default(results):
    _, got = results
    one, default = answer(got, 12), answer(got, 13)
    assert one["model_version"] == "1"
    np.testing.assert_array_equal(np.array(one["outputs"]["y"]["value"], dtype=np.float32),
                                  models.reference_model_answer(models.add_one(value=1.0), {"x": X})["y"])
    np.testing.assert_array_equal(np.array(default["outputs"]["y"]["value"], dtype=np.float32),
                                  models.reference_model_answer(models.add_one(value=2.0), {"x": X})["y"])


def test_infer_bytes_binary_and_typed(results):
    _, got = results
    assert answer(got, 14)["outputs"]["text"]["value"] == ["hello", "w\u00f6rld", ""]
    assert answer(got, 15)["outputs"]["text"]["value"] == ["typed", "ok"]


def test_errors_reach_the_client_with_their_codes(results):
    transport, got = results
    wrong, unknown = got[16]["error"], got[17]["error"]
    if transport == "rest":
        assert (wrong["status"], unknown["status"]) == (400, 404)
        assert wrong["content_type"] == unknown["content_type"] == "application/json"  # else kserve drops the message
    else:
        assert (wrong["status"], unknown["status"]) == ("StatusCode.INVALID_ARGUMENT", "StatusCode.NOT_FOUND")
    assert "Invalid data type for input 'b'" in wrong["message"]
    assert "Model 'nope' not found" in unknown["message"]
