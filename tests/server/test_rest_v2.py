"""KServe v2 REST on a real server, spoken with httpx: JSON and binary framing, metadata, readiness, errors.

One server (module scope) from a config.json, f32 precision: ``add`` (x + 1, [1, 10]),
``two`` (two_in_two_out, [-1, 3]), ``half`` (f16 x * 2), ``echo`` (strings),
``ints`` (i64 row sums) and ``ver`` (version 1 adds 1, version 2 adds 2; both served).
Answers are compared with in-process OpenVINO on the same model files.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests import models
from tests.serverproc import Server, live_until_done

HEADER = "Inference-Header-Content-Length"


@dataclass
class Served:
    server: Server
    paths: dict[str, Path]

    @property
    def client(self) -> httpx.Client:
        return self.server.client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("rest_v2")
    builders = {"add": models.add_one(), "two": models.two_in_two_out(), "half": models.half_double(),
                "echo": models.strings_echo(), "ints": models.int_sum(), "ver": models.add_one(value=1.0)}
    paths, entries = {}, []
    for name, model in builders.items():
        paths[name] = models.write_version(root / name, 1, model) / "model.xml"
        entry = {"name": name, "base_path": str(root / name), "plugin_config": models.F32}
        if name == "ver":
            paths["ver2"] = models.write_version(root / name, 2, models.add_one(value=2.0)) / "model.xml"
            entry["model_version_policy"] = {"all": {}}
        entries.append({"config": entry})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    for live in live_until_done(Server(["--config_path", str(config)], log_path=root / "server.log")):
        yield Served(live, paths)


def assert_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and fragment in body["error"], body


def binary_body(header: dict, blobs: list[bytes]) -> tuple[bytes, dict[str, str]]:
    text = json.dumps(header).encode()
    return text + b"".join(blobs), {HEADER: str(len(text))}


def split_answer(response: httpx.Response) -> tuple[dict, bytes]:
    length = int(response.headers[HEADER])
    return json.loads(response.content[:length]), response.content[length:]


def test_server_metadata_and_health(served: Served) -> None:
    for path in ("/v2", "/v2/"):
        body = served.client.get(path).json()
        assert body["name"] == "ovserve" and body["version"]
        assert body["extensions"] == ["binary_tensor_data", "model_configuration", "model_repository"]  # the list gRPC ServerMetadata gives
    live = served.client.get("/v2/health/live")
    assert live.status_code == 200 and live.json() == {"live": True}
    assert live.headers["content-type"] == "application/json"
    assert served.client.get("/v2/health/ready?test_1=1").json() == {"ready": True}


def test_model_config(served: Served) -> None:
    """model_configuration: Triton's ModelConfig as JSON, the same document gRPC ModelConfig carries."""
    for path in ("/v2/models/ints/config", "/v2/models/ints/versions/1/config", "/v2/models/ints/config/?x=1"):
        answer = served.client.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json", answer.text
        assert answer.json() == {"name": "ints", "platform": "openvino", "backend": "openvino", "max_batch_size": 0,
                                 "input": [{"name": "values", "data_type": "TYPE_INT64", "dims": [-1, 4]}],
                                 "output": [{"name": "total", "data_type": "TYPE_INT64", "dims": [-1]}]}
    two = served.client.get("/v2/models/two/config").json()
    assert [(t["name"], t["data_type"], t["dims"]) for t in two["input"]] == [("a", "TYPE_FP32", [-1, 3]), ("b", "TYPE_FP32", [-1, 3])]
    assert served.client.get("/v2/models/half/config").json()["input"][0]["data_type"] == "TYPE_FP16"
    assert served.client.get("/v2/models/echo/config").json()["output"][0]["data_type"] == "TYPE_STRING"
    assert_error(served.client.get("/v2/models/nope/config"), 404, "nope")
    assert_error(served.client.get("/v2/models/ver/versions/7/config"), 404, "7")
    assert served.client.post("/v2/models/ints/config").status_code == 405


def test_model_metadata_and_ready(served: Served) -> None:
    meta = served.client.get("/v2/models/two").json()
    assert meta == {"name": "two", "versions": ["1"], "platform": "openvino",
                    "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 3]}, {"name": "b", "datatype": "FP32", "shape": [-1, 3]}],
                    "outputs": [{"name": "sum", "datatype": "FP32", "shape": [-1, 3]},
                                {"name": "product", "datatype": "FP32", "shape": [-1, 3]}]}
    # every version that can be asked for, as gRPC ModelMetadata lists them, whichever one answered
    assert served.client.get("/v2/models/ver").json()["versions"] == ["1", "2"]
    assert served.client.get("/v2/models/ver/versions/1").json()["versions"] == ["1", "2"]
    assert served.client.get("/v2/models/half").json()["inputs"][0]["datatype"] == "FP16"
    assert served.client.get("/v2/models/echo").json()["inputs"][0]["datatype"] == "BYTES"
    assert served.client.get("/v2/models/add/ready").json() == {"name": "add", "ready": True}
    assert served.client.get("/v2/models/ver/versions/1/ready").status_code == 200
    assert_error(served.client.get("/v2/models/nope/ready"), 404, "nope")
    assert_error(served.client.get("/v2/models/nope"), 404, "nope")
    assert_error(served.client.get("/v2/models/ver/versions/7/ready"), 404, "7")


def test_json_infer_nested_data_id_and_version(served: Served) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    b = np.full((2, 3), 3, dtype=np.float32)
    body = {"id": "req-1", "inputs": [{"name": "a", "shape": [2, 3], "datatype": "FP32", "data": a.tolist()},
                                      {"name": "b", "shape": [2, 3], "datatype": "FP32", "data": b.ravel().tolist()}]}
    response = served.client.post("/v2/models/two/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json" and HEADER not in response.headers
    answer = response.json()
    assert answer["model_name"] == "two" and answer["model_version"] == "1" and answer["id"] == "req-1"
    expected = models.reference(served.paths["two"], {"a": a, "b": b})
    for output in answer["outputs"]:
        assert output["datatype"] == "FP32" and output["shape"] == [2, 3]
        np.testing.assert_allclose(np.array(output["data"]).reshape(2, 3), expected[output["name"]], rtol=1e-6)


def test_outputs_filter_and_specific_version(served: Served) -> None:
    x = np.ones((1, 10), np.float32)
    body = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": x.ravel().tolist()}]}
    one = served.client.post("/v2/models/ver/versions/1/infer", json=body).json()
    two = served.client.post("/v2/models/ver/infer", json=body).json()
    assert (one["model_version"], one["outputs"][0]["data"][0]) == ("1", 2.0)
    assert (two["model_version"], two["outputs"][0]["data"][0]) == ("2", 3.0)
    pair = {"inputs": [{"name": n, "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]} for n in ("a", "b")],
            "outputs": [{"name": "product"}]}
    answer = served.client.post("/v2/models/two/infer", json=pair).json()
    assert [o["name"] for o in answer["outputs"]] == ["product"] and answer["outputs"][0]["data"] == [1, 4, 9]
    assert "id" not in answer


def test_binary_in_and_out_without_content_type(served: Served) -> None:
    a = np.random.default_rng(3).random((4, 3), dtype=np.float32)
    b = np.random.default_rng(4).random((4, 3), dtype=np.float32)
    header = {"inputs": [{"name": "a", "shape": [4, 3], "datatype": "FP32", "parameters": {"binary_data_size": a.nbytes}},
                         {"name": "b", "shape": [4, 3], "datatype": "FP32", "data": b.tolist()}],
              "outputs": [{"name": "sum", "parameters": {"binary_data": True}}, {"name": "product"}]}
    content, headers = binary_body(header, [a.tobytes()])
    response = served.client.post("/v2/models/two/infer", content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    answer, blobs = split_answer(response)
    expected = models.reference(served.paths["two"], {"a": a, "b": b})
    summed, product = answer["outputs"]
    assert summed["parameters"]["binary_data_size"] == 48 and "data" not in summed and len(blobs) == 48
    np.testing.assert_array_equal(np.frombuffer(blobs, "<f4").reshape(4, 3), expected["sum"])
    np.testing.assert_allclose(np.array(product["data"]).reshape(4, 3), expected["product"], rtol=1e-6)


def test_binary_data_output_covers_every_output(served: Served) -> None:
    h = np.array([1.5, -2.0, 0.25], np.float16)
    header = {"inputs": [{"name": "h", "shape": [3], "datatype": "FP16", "parameters": {"binary_data_size": 6}}],
              "parameters": {"binary_data_output": True}}
    content, headers = binary_body(header, [h.tobytes()])
    response = served.client.post("/v2/models/half/infer", content=content,
                                  headers={**headers, "Content-Type": "application/octet-stream"})
    answer, blob = split_answer(response)
    assert answer["outputs"][0]["datatype"] == "FP16"
    np.testing.assert_array_equal(np.frombuffer(blob, "<f2"), h * 2)


def test_bytes_binary_and_json(served: Served) -> None:
    words = [b"hello", b"", "héllo".encode()]
    framed = b"".join(struct.pack("<I", len(w)) + w for w in words)
    header = {"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": len(framed)}}],
              "outputs": [{"name": "text", "parameters": {"binary_data": True}}]}
    content, headers = binary_body(header, [framed])
    answer, blob = split_answer(served.client.post("/v2/models/echo/infer", content=content, headers=headers))
    assert answer["outputs"][0]["datatype"] == "BYTES" and blob == framed
    as_json = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a", "héllo"]}]}
    output = served.client.post("/v2/models/echo/infer", json=as_json).json()["outputs"][0]
    assert output["data"] == ["a", "héllo"] and output["shape"] == [2]


def test_int64_json(served: Served) -> None:
    body = {"inputs": [{"name": "values", "shape": [2, 4], "datatype": "INT64", "data": [[1, 2, 3, 4], [5, 0, 0, -1]]}]}
    output = served.client.post("/v2/models/ints/infer", json=body).json()["outputs"][0]
    assert output["datatype"] == "INT64" and output["data"] == [10, 4]


@pytest.mark.parametrize(("body", "fragment"), [
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "BOOL", "data": [True] * 10}]}, "Obtained DT_BOOL"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "INT64", "data": [2**24 + 1] * 10}]}, "converting would change values"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": [0] * 9}]}, "holds 10 elements"),
    ({"inputs": [{"name": "x", "shape": [1000000, 1000000], "datatype": "FP32", "data": [0]}]}, "too large"),
    ({"inputs": [{"name": "y", "shape": [1, 10], "datatype": "FP32", "data": [0] * 10}]}, "not found in signature"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FLOAT", "data": [0] * 10}]}, "not supported"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32"}]}, "exactly one of"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": ["a"] * 10}]}, "must be numbers"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": [0] * 10}], "outputs": [{"name": "z"}]},
     "not in signature"),
    ({"inputs": []}, '"inputs"'),
])
def test_bad_json_requests(served: Served, body: dict, fragment: str) -> None:
    assert_error(served.client.post("/v2/models/add/infer", json=body), 400, fragment)


def test_bad_binary_framing(served: Served) -> None:
    x = np.zeros((1, 10), np.float32).tobytes()
    header = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "parameters": {"binary_data_size": 40}}]}
    content, headers = binary_body(header, [x])
    longer = {HEADER: str(len(content) + 1)}
    assert_error(served.client.post("/v2/models/add/infer", content=content, headers=longer), 400, "only")
    assert_error(served.client.post("/v2/models/add/infer", content=content[:-4], headers=headers), 400, "past the end")
    assert_error(served.client.post("/v2/models/add/infer", content=content + b"1234", headers=headers), 400, "add up")
    short = {**header, "inputs": [{**header["inputs"][0], "parameters": {"binary_data_size": 36}}]}
    content, headers = binary_body(short, [x[:36]])
    assert_error(served.client.post("/v2/models/add/infer", content=content, headers=headers), 400, "needs 40 bytes")
    huge = {"inputs": [{"name": "x", "shape": [10**6, 10**6], "datatype": "FP32", "parameters": {"binary_data_size": 40}}]}
    content, headers = binary_body(huge, [x])
    assert_error(served.client.post("/v2/models/add/infer", content=content, headers=headers), 400, "too large")
    assert_error(served.client.post("/v2/models/add/infer", content=b"{", headers={"Content-Type": "text/csv"}), 400,
                 "not valid JSON")
    good = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": [0] * 10}]}
    assert served.client.post("/v2/models/add/infer", json=good).json()["outputs"][0]["data"] == [1.0] * 10


def test_wrong_method_and_unknown_paths(served: Served) -> None:
    assert_error(served.client.get("/v2/models/add/infer"), 405, "POST")
    assert_error(served.client.get("/v2/models/add/stats"), 404, "/stats")
    assert_error(served.client.post("/v2/models/nope/infer", json={"inputs": []}), 400, "inputs")
    good = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP32", "data": [0] * 10}]}
    assert_error(served.client.post("/v2/models/nope/infer", json=good), 404, "nope")
    assert_error(served.client.post("/v2/models/add/infer", json=good, headers={"Content-Encoding": "gzip"}), 400, "gzip")


def test_a_datatype_that_converts_without_changing_a_value_is_served_as_on_every_other_api(served: Served) -> None:
    """INT32 values into an FP32 input: the TF Serving API's rule (and gRPC v2's), not a 400."""
    body = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "INT32", "data": list(range(10))}]}
    answer = served.client.post("/v2/models/add/infer", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [float(i + 1) for i in range(10)]
