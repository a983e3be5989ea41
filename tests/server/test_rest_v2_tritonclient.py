"""The official ``tritonclient.http`` (sync, async_infer and aio), unmodified, against a real server's v2 REST.

tritonclient cannot share the test venv (its pins clash with kserve's), so
``tests/clients/v2_http_client.py`` runs in ``.venv-v2clients`` as a subprocess;
values are checked against in-process OpenVINO on the same model files.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.clients import v2_python
from tests.serverproc import REPO, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("rest_v2_triton")
    builders = {"two": models.two_in_two_out(), "half": models.half_double(), "echo": models.strings_echo()}
    entries = []
    for name, model in builders.items():
        models.write_version(root / name, 1, model)
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32}})
    models.write_version(root / "ver", 1, models.add_one(value=1.0))
    models.write_version(root / "ver", 2, models.add_one(value=2.0))
    entries.append({"config": {"name": "ver", "base_path": str(root / "ver"), "plugin_config": models.F32,
                               "model_version_policy": {"all": {}}}})
    (root / "config.json").write_text(json.dumps({"model_config_list": entries}))
    started = Server(["--config_path", str(root / "config.json")], log_path=root / "server.log")
    try:
        yield started.wait_live(), root
        assert started.process.poll() is None, started.read_log()
    finally:
        started.stop()


def run_client(server: Server, calls: list[dict], aio: bool = False) -> list[dict]:
    request = {"url": f"127.0.0.1:{server.port}", "aio": aio, "calls": calls}
    done = subprocess.run([v2_python(), str(REPO / "tests" / "clients" / "v2_http_client.py")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["results"]


A = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
B = np.full((2, 3), 1.5, np.float32)


def _two(**options: object) -> dict:
    return {"call": "infer", "model": "two", "inputs": {"a": {"value": A.tolist(), "dtype": "float32", "datatype": "FP32"},
                                                        "b": {"value": B.tolist(), "dtype": "float32", "datatype": "FP32"}},
            **options}


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_tritonclient_http(server: tuple[Server, Path], aio: bool) -> None:
    served, root = server
    expected = models.reference(root / "two" / "1" / "model.xml", {"a": A, "b": B})
    h = np.array([0.5, -3.25, 8.0], np.float16)
    calls = [
        {"call": "health"},
        {"call": "metadata", "model": "ver", "version": "1"},
        _two(),  # tritonclient's defaults: binary inputs, binary_data_output for every output
        _two(binary_in=False, binary_out=False, outputs=["product"]),
        _two(binary_in=True, binary_out=True, outputs=["sum"], **({} if aio else {"async": True})),
        {"call": "infer", "model": "half", "inputs": {"h": {"value": h.tolist(), "dtype": "float16", "datatype": "FP16"}},
         "outputs": ["doubled"]},
        {"call": "infer", "model": "echo", "inputs": {"text": {"value": ["a", "héllo", ""], "datatype": "BYTES"}}},
        {"call": "infer", "model": "echo", "binary_in": False, "binary_out": False, "outputs": ["text"],
         "inputs": {"text": {"value": ["json", "ok"], "datatype": "BYTES"}}},
        {"call": "infer", "model": "ver", "version": "1",
         "inputs": {"x": {"value": [[1.0] * 10], "dtype": "float32", "datatype": "FP32"}}},
        {"call": "infer", "model": "ver", "inputs": {"x": {"value": [[1.0] * 10], "dtype": "float32", "datatype": "FP32"}}},
        {"call": "infer", "model": "two", "inputs": {"a": {"value": [[True, False, True]], "dtype": "bool", "datatype": "BOOL"},
                                                      "b": {"value": [[True, False, True]], "dtype": "bool", "datatype": "BOOL"}}},
        {"call": "metadata", "model": "nope"},
        {"call": "config", "model": "ver", "version": "2"},
        {"call": "config", "model": "echo"},
    ]
    (health, meta, default, json_only, one, half, strings, strings_json, v1, v2, wrong_type, unknown, config,
     echo_config) = run_client(served, calls, aio)
    assert health["live"] and health["ready"] and health["metadata"]["name"] == "ovserve"
    assert meta["ready"] and meta["metadata"]["versions"] == ["1", "2"]
    for name in ("sum", "product"):
        np.testing.assert_array_equal(np.array(default["outputs"][name]["value"], np.float32), expected[name])
    assert list(json_only["outputs"]) == ["product"]
    np.testing.assert_allclose(np.array(json_only["outputs"]["product"]["value"]), expected["product"], rtol=1e-6)
    assert list(one["outputs"]) == ["sum"]
    assert half["outputs"]["doubled"]["dtype"] == "float16"
    np.testing.assert_array_equal(np.array(half["outputs"]["doubled"]["value"], np.float16), h * 2)
    assert strings["outputs"]["text"]["value"] == ["a", "héllo", ""]
    assert strings_json["outputs"]["text"]["value"] == ["json", "ok"]
    assert v1["model_version"] == "1" and v1["outputs"]["y"]["value"] == [[2.0] * 10]
    assert v2["model_version"] == "2" and v2["outputs"]["y"]["value"] == [[3.0] * 10]
    # a datatype no value converts from (the TF Serving API's rule: convert only when no value changes)
    assert "Invalid data type for input 'a'" in wrong_type["error"] and "DT_BOOL" in wrong_type["error"], wrong_type
    assert wrong_type["status"] == "400"
    assert "nope" in unknown["error"]
    assert health["metadata"]["extensions"] == ["binary_tensor_data", "model_configuration", "model_repository"]
    assert config["config"] == {"name": "ver", "platform": "openvino", "backend": "openvino", "max_batch_size": 0,
                                "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [1, 10]}],
                                "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [1, 10]}]}
    assert [t["data_type"] for t in echo_config["config"]["input"]] == ["TYPE_STRING"]
