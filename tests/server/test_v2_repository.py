"""Triton's model repository extension on a real server: index, unload, load, over raw REST, gRPC and tritonclient.

One server (module scope) from a config.json, f32 precision: ``add`` (x + 1, [1, 10]),
``two`` (sum and product of two [-1, 3] inputs) and ``spare`` (x + 5). Every test using it
leaves all three loaded at version 1, so they can run in any order; the polling test
changes version folders and gets a server of its own. Values are checked against
arithmetic on the inputs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from ovserve.handler.protos import grpc_service_pb2 as pb
from tests import models
from tests.clients import REPO, v2_python
from tests.grpc_generated import grpc_service_pb2_grpc
from tests.serverproc import Server

TIMEOUT = 60
X = np.arange(10, dtype=np.float32).reshape(1, 10) / 7
A = np.array([[1.5, -2, 3], [4, 5, 6.25]], dtype=np.float32)
B = np.array([[0.5, 2, -1], [2, 0, 4]], dtype=np.float32)
MODELS = {"add": models.add_one(value=1.0), "two": models.two_in_two_out(), "spare": models.add_one(value=5.0)}


@dataclass
class Served:
    server: Server
    root: Path

    @property
    def client(self) -> httpx.Client:
        return self.server.client


def start(root: Path) -> Server:
    """A server for ``MODELS`` under ``root``, polling storage every second."""
    entries = []
    for name, model in MODELS.items():
        models.write_version(root / name, 1, model)
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32}})
    (root / "config.json").write_text(json.dumps({"model_config_list": entries}))
    return Server(["--config_path", str(root / "config.json"), "--file_system_poll_wait_seconds", "1"],
                  log_path=root / "server.log")


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Served]:
    server = start(root)
    try:
        yield Served(server.wait_live(), root)
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("v2_repository")) as running:
        yield running


@pytest.fixture(scope="module")
def stub(served: Served) -> Iterator[grpc_service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(served.server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        yield grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)


def index(served: Served, **body: object) -> list[dict]:
    response = served.client.post("/v2/repository/index", json=body or None)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json", response.text
    return response.json()


def rows(served: Served, name: str) -> list[dict]:
    return [row for row in index(served) if row["name"] == name]


def control(served: Served, model: str, action: str, body: object = None) -> httpx.Response:
    return served.client.post(f"/v2/repository/models/{model}/{action}", json=body)


def assert_ok(response: httpx.Response) -> None:
    """Triton answers a load or unload with 200 and an empty body; tritonclient reads nothing more."""
    assert response.status_code == 200, response.text
    assert response.content == b""


def assert_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and fragment in body["error"], body


def infer_add(served: Served) -> httpx.Response:
    return served.client.post("/v2/models/add/infer", json={
        "inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": X.ravel().tolist()}]})


def added(response: httpx.Response, value: float = 1.0) -> None:
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    np.testing.assert_array_equal(np.array(output["data"], np.float32).reshape(1, 10), X + np.float32(value))


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll ``condition`` until it holds (the server's storage poll runs on its own clock)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_index_lists_every_configured_model_ready(served: Served) -> None:
    expected = [{"name": name, "version": "1", "state": "READY", "reason": ""} for name in sorted(MODELS)]
    assert index(served) == expected
    assert index(served, ready=True) == expected
    assert served.client.post("/v2/repository/index", content=b"").json() == expected  # tritonclient sends no body


def test_unload_then_load_over_rest(served: Served) -> None:
    added(infer_add(served))
    assert_ok(control(served, "add", "unload", {"parameters": {"unload_dependents": False}}))
    assert rows(served, "add") == [{"name": "add", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}]
    assert "add" not in [row["name"] for row in index(served, ready=True)]
    assert_error(infer_add(served), 404, "unloaded through the model repository API")
    assert_error(served.client.get("/v2/models/add/ready"), 404, "unloaded")
    assert served.client.get("/v2/health/ready").status_code == 200, "an unloaded model does not make the server unready"
    two = served.client.post("/v2/models/two/infer", json={"inputs": [
        {"name": "a", "shape": [2, 3], "datatype": "FP32", "data": A.ravel().tolist()},
        {"name": "b", "shape": [2, 3], "datatype": "FP32", "data": B.ravel().tolist()}]}).json()
    sums = {o["name"]: np.array(o["data"], np.float32).reshape(2, 3) for o in two["outputs"]}
    np.testing.assert_array_equal(sums["sum"], A + B)
    assert_ok(control(served, "add", "unload"))  # unloading it again is fine, as on Triton

    assert_ok(control(served, "add", "load"))
    added(infer_add(served))
    assert rows(served, "add") == [{"name": "add", "version": "1", "state": "READY", "reason": ""}]
    assert served.client.get("/v2/models/add/ready").json() == {"name": "add", "ready": True}


def test_polling_does_not_bring_an_unloaded_model_back_and_load_rescans(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        assert_ok(control(served, "add", "unload"))
        models.write_version(tmp_path / "add", 2, models.add_one(value=2.0))  # seen only once it is loaded again
        models.write_version(tmp_path / "two", 2, models.two_in_two_out())
        wait_for(lambda: ("2", "READY") in [(row["version"], row["state"]) for row in rows(served, "two")])
        # a poll has run since the unload, and left the unloaded model alone
        assert rows(served, "add") == [{"name": "add", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}]
        assert_error(infer_add(served), 404, "unloaded")

        assert_ok(control(served, "add", "load", {}))  # back from its remembered configuration, storage scanned again
        added(infer_add(served), 2.0)
        assert rows(served, "add") == [{"name": "add", "version": "2", "state": "READY", "reason": ""}]
        shutil.rmtree(tmp_path / "add" / "2")
        assert_ok(control(served, "add", "load"))  # a load of a served model re-scans now, not at the next poll
        added(infer_add(served))
        assert rows(served, "add") == [{"name": "add", "version": "1", "state": "READY", "reason": ""},
                                       {"name": "add", "version": "2", "state": "UNAVAILABLE", "reason": "unloaded"}]


def test_a_load_that_cannot_serve_says_why_and_keeps_the_model_unloaded(served: Served) -> None:
    assert_ok(control(served, "spare", "unload"))
    folder = served.root / "spare"
    shutil.move(folder, served.root / "spare-away")
    assert_error(control(served, "spare", "load"), 503, "Model 'spare' could not be loaded")
    (row,) = rows(served, "spare")
    assert row["state"] == "UNAVAILABLE" and row["reason"].startswith("unloaded; loading it again failed:"), row
    assert_error(served.client.get("/v2/models/spare"), 404, "unloaded")
    shutil.move(served.root / "spare-away", folder)
    assert_ok(control(served, "spare", "load"))
    assert rows(served, "spare") == [{"name": "spare", "version": "1", "state": "READY", "reason": ""}]


@pytest.mark.parametrize(("method", "path", "body", "status", "fragment"), [
    ("POST", "/v2/repository/models/nope/load", b"", 404, "only configured models"),
    ("POST", "/v2/repository/models/nope/unload", b"", 404, "add, spare, two"),
    ("POST", "/v2/repository/models/add/load", b'{"parameters": {"config": "{}"}}', 400, "load parameter 'config'"),
    ("POST", "/v2/repository/models/add/load", b'{"parameters": {"file:1/model.xml": "eA=="}}', 400,
     "load parameter 'file:1/model.xml'"),
    ("POST", "/v2/repository/models/add/load", b'{"parameters": {"priority": 1}}', 400, "unknown load parameter"),
    ("POST", "/v2/repository/models/add/load", b'{"parameters": [1]}', 400, "'parameters' must be a JSON object"),
    ("POST", "/v2/repository/models/add/unload", b'{"parameters": {"unload_dependents": "yes"}}', 400,
     "'unload_dependents' must be a boolean"),
    ("POST", "/v2/repository/models/add/load", b'{"parameters": ', 400, "load request body is not valid JSON"),
    ("POST", "/v2/repository/index", b"{oops", 400, "index request body is not valid JSON"),
    ("POST", "/v2/repository/index", b"[true]", 400, "must be a JSON object, not list"),
    ("POST", "/v2/repository/index", b'{"ready": "yes"}', 400, "'ready' must be a boolean"),
    ("POST", "/v2/repository/other/index", b"", 400, "repository names are not supported"),
    ("GET", "/v2/repository/index", b"", 405, "takes POST"),
    ("POST", "/v2/repository/models/add/reload", b"", 404, "/v2/repository/models/{m}/load|unload"),
])
def test_bad_repository_calls(served: Served, method: str, path: str, body: bytes, status: int, fragment: str) -> None:
    assert_error(served.client.request(method, path, content=body), status, fragment)
    added(infer_add(served))  # nothing was unloaded by a refused call


def grpc_infer_add(stub) -> pb.ModelInferResponse:
    request = pb.ModelInferRequest(model_name="add")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 10])
    request.raw_input_contents.append(X.astype("<f4").tobytes())
    return stub.ModelInfer(request, timeout=TIMEOUT)


def grpc_rows(stub, **fields: object) -> list[tuple[str, str, str, str]]:
    answer = stub.RepositoryIndex(pb.RepositoryIndexRequest(**fields), timeout=TIMEOUT)
    return [(m.name, m.version, m.state, m.reason) for m in answer.models]


def test_grpc_index_unload_and_load(stub) -> None:
    assert grpc_rows(stub) == [(name, "1", "READY", "") for name in sorted(MODELS)]
    unload = pb.RepositoryModelUnloadRequest(model_name="add")
    unload.parameters["unload_dependents"].bool_param = True
    stub.RepositoryModelUnload(unload, timeout=TIMEOUT)
    assert ("add", "1", "UNAVAILABLE", "unloaded") in grpc_rows(stub)
    assert [row[0] for row in grpc_rows(stub, ready=True)] == ["spare", "two"]
    assert stub.ModelReady(pb.ModelReadyRequest(name="add"), timeout=TIMEOUT).ready is False  # as Triton answers
    with pytest.raises(grpc.RpcError) as refused:
        grpc_infer_add(stub)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND and "unloaded" in refused.value.details()

    stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="add"), timeout=TIMEOUT)
    answer = grpc_infer_add(stub)
    np.testing.assert_array_equal(np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(1, 10), X + 1)
    assert stub.ModelReady(pb.ModelReadyRequest(name="add"), timeout=TIMEOUT).ready is True


def test_grpc_bad_repository_calls(stub) -> None:
    with_config = pb.RepositoryModelLoadRequest(model_name="add")
    with_config.parameters["config"].string_param = "{}"
    with_file = pb.RepositoryModelLoadRequest(model_name="add")
    with_file.parameters["file:1/model.xml"].bytes_param = b"x"
    calls = [
        (stub.RepositoryModelLoad, with_config, grpc.StatusCode.INVALID_ARGUMENT, "load parameter 'config'"),
        (stub.RepositoryModelLoad, with_file, grpc.StatusCode.INVALID_ARGUMENT, "load parameter 'file:1/model.xml'"),
        (stub.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="nope"), grpc.StatusCode.NOT_FOUND,
         "only configured models"),
        (stub.RepositoryModelUnload, pb.RepositoryModelUnloadRequest(model_name="nope"), grpc.StatusCode.NOT_FOUND,
         "only configured models"),
        (stub.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name=""), grpc.StatusCode.INVALID_ARGUMENT,
         "the model name is empty"),
        (stub.RepositoryIndex, pb.RepositoryIndexRequest(repository_name="other"), grpc.StatusCode.INVALID_ARGUMENT,
         "repository names are not supported"),
    ]
    for method, request, code, fragment in calls:
        with pytest.raises(grpc.RpcError) as refused:
            method(request, timeout=TIMEOUT)
        assert (refused.value.code(), fragment in refused.value.details()) == (code, True), refused.value.details()
    assert grpc_rows(stub, ready=True) == [(name, "1", "READY", "") for name in sorted(MODELS)]


def tritonclient(script: str, job: dict) -> list[dict]:
    done = subprocess.run([v2_python(), str(REPO / "tests" / "clients" / script)], input=json.dumps(job),
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["results"]


ADD_INPUTS = {"x": {"value": X.tolist(), "dtype": "float32", "datatype": "FP32"}}
CYCLE = [
    {"call": "index"},
    {"call": "unload", "model": "add"},
    {"call": "model_ready", "model": "add"},
    {"call": "infer", "model": "add", "inputs": ADD_INPUTS},
    {"call": "index"},
    {"call": "load", "model": "add", "config": "{\"backend\": \"openvino\"}"},
    {"call": "load", "model": "add"},
    {"call": "model_ready", "model": "add"},
    {"call": "infer", "model": "add", "inputs": ADD_INPUTS},
]
READY_ROWS = [{"name": name, "version": "1", "state": "READY", "reason": ""} for name in sorted(MODELS)]


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_tritonclient_http(served: Served, aio: bool) -> None:
    results = tritonclient("v2_http_client.py", {"url": f"127.0.0.1:{served.server.port}", "aio": aio, "calls": CYCLE})
    assert results[0] == {"index": READY_ROWS}
    assert results[1] == {"unloaded": "add"} and results[2] == {"ready": False}
    assert results[3]["status"] == "404" and "unloaded" in results[3]["error"], results[3]
    assert {"name": "add", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"} in results[4]["index"]
    assert results[5]["status"] == "400" and "load parameter 'config'" in results[5]["error"], results[5]
    assert results[6] == {"loaded": "add"} and results[7] == {"ready": True}
    np.testing.assert_array_equal(np.array(results[8]["outputs"]["y"]["value"], np.float32), X + 1)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_tritonclient_grpc(served: Served, aio: bool) -> None:
    results = tritonclient("v2_grpc_client.py", {"target": served.server.grpc_target, "aio": aio, "calls": CYCLE})
    assert results[0] == {"models": READY_ROWS}
    assert results[1] == {"unloaded": "add"} and results[2] == {"ready": False}
    assert results[3]["error"]["status"] == "StatusCode.NOT_FOUND" and "unloaded" in results[3]["error"]["message"]
    assert {"name": "add", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"} in results[4]["models"]
    assert results[5]["error"]["status"] == "StatusCode.INVALID_ARGUMENT", results[5]
    assert results[6] == {"loaded": "add"} and results[7] == {"ready": True}
    np.testing.assert_array_equal(np.array(results[8]["outputs"]["y"]["value"], np.float32), X + 1)
