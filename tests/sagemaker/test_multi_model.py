"""Multi-model endpoints on a real ``serve`` process: load, list, describe, invoke, unload, and their status codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from tests import models

MME = {"SAGEMAKER_MULTI_MODEL": "true"}


def heavy(columns: int = 8192) -> ov.Model:
    """x [1, 4096] @ W [4096, columns]: 128 MiB of f32 weights at the default size."""
    x = ops.parameter([1, 4096], ov.Type.f32, name="x")
    weights = ops.constant(np.full((4096, columns), 1.0 / 4096, dtype=np.float32))
    y = ops.matmul(x, weights, False, False)
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "heavy")


def extracted(root: Path, name: str, model: ov.Model) -> str:
    """What SageMaker leaves under /opt/ml/models/<name>/model after extracting model.tar.gz."""
    folder = root / name / "model"
    models.write_version(folder, 1, model)
    return str(folder)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def endpoint(start_sagemaker):
    return start_sagemaker(MME)


def test_ping_is_healthy_with_no_model_loaded(endpoint):
    assert endpoint.client.get("/ping").status_code == 200
    assert endpoint.client.get("/models").json() == {"models": []}


def test_load_invoke_list_describe_unload(endpoint, tmp_path):
    url = extracted(tmp_path, "adder", models.add_one(shape=(-1, 3), value=3.0))
    loaded = endpoint.client.post("/models", json={"model_name": "adder", "url": url})
    assert loaded.status_code == 200, loaded.text
    again = endpoint.client.post("/models", json={"model_name": "adder", "url": url})
    assert again.status_code == 409 and "already loaded" in again.json()["error"]

    reply = endpoint.client.post("/models/adder/invoke", content=b"1,2,3\n4,5,6",
                                 headers={"Content-Type": "text/csv", "Accept": "text/csv",
                                          "X-Amzn-SageMaker-Target-Model": "adder.tar.gz"})
    assert reply.status_code == 200 and reply.text == "4.0,5.0,6.0\n7.0,8.0,9.0"

    assert endpoint.client.get("/models").json() == {"models": [{"modelName": "adder", "modelUrl": url}]}
    assert endpoint.client.get("/models/adder").json() == {"modelName": "adder", "modelUrl": url}

    gone = endpoint.client.delete("/models/adder")
    assert gone.status_code == 200
    assert endpoint.client.post("/models/adder/invoke", content=b"1,2,3", headers={"Content-Type": "text/csv"}).status_code == 404
    assert endpoint.client.get("/models/adder").status_code == 404
    assert endpoint.client.delete("/models/adder").status_code == 404
    reloaded = endpoint.client.post("/models", json={"model_name": "adder", "url": url})
    assert reloaded.status_code == 200, reloaded.text


def test_listing_is_paginated(endpoint, tmp_path):
    names = [f"m{i}" for i in range(5)]
    for name in names:
        url = extracted(tmp_path, name, models.add_one(shape=(-1, 3)))
        assert endpoint.client.post("/models", json={"model_name": name, "url": url}).status_code == 200
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"next_page_token": token} if token else {})}
        page = endpoint.client.get("/models", params=params).json()
        seen += [m["modelName"] for m in page["models"]]
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            break
    assert seen == names and pages == 3
    assert endpoint.client.get("/models", params={"limit": "many"}).status_code == 400


def test_models_are_served_separately(endpoint, tmp_path):
    for name, value in (("plus1", 1.0), ("plus10", 10.0)):
        url = extracted(tmp_path, name, models.add_one(shape=(-1, 3), value=value))
        assert endpoint.client.post("/models", json={"model_name": name, "url": url}).status_code == 200
    for name, value in (("plus1", 1.0), ("plus10", 10.0)):
        reply = endpoint.client.post(f"/models/{name}/invoke", json={"instances": [[0, 0, 0]]})
        assert reply.json() == {"predictions": [[value] * 3]}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"not json", 400, "not JSON"),
        (b'{"model_name": "a"}', 400, "url must name"),
        (b'{"model_name": "a/b", "url": "/x"}', 400, "without '/'"),
        (b'{"model_name": "a", "url": "/definitely/not/here"}', 404, "does not exist"),
        (b'{"model_name": "a", "url": "ftp://host/model"}', 400, "not supported"),
    ],
)
def test_bad_load_requests_are_refused(endpoint, body, status, fragment):
    reply = endpoint.client.post("/models", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == status and fragment in reply.json()["error"], reply.text


def test_a_folder_without_a_loadable_model_is_refused_and_not_listed(endpoint, tmp_path):
    folder = tmp_path / "broken" / "model" / "1"
    folder.mkdir(parents=True)
    (folder / "model.xml").write_text("<net/>")
    reply = endpoint.client.post("/models", json={"model_name": "broken", "url": str(folder.parent)})
    assert reply.status_code == 400 and "cannot read model.xml" in reply.json()["error"]
    assert endpoint.client.get("/models").json() == {"models": []}


def test_invoking_a_model_that_is_not_loaded_is_404(endpoint):
    reply = endpoint.client.post("/models/ghost/invoke", content=b"[1]", headers={"Content-Type": "application/json"})
    assert reply.status_code == 404 and "POST /models" in reply.json()["error"]


def test_a_load_that_would_not_fit_in_memory_gets_507(start_sagemaker, tmp_path):
    endpoint = start_sagemaker({**MME, "OVSERVE_MEMORY_RESERVE_MB": str(1 << 40)})
    url = extracted(tmp_path, "adder", models.add_one(shape=(-1, 3)))
    reply = endpoint.client.post("/models", json={"model_name": "adder", "url": url})
    assert reply.status_code == 507 and "unload a model first" in reply.json()["error"]
    assert endpoint.client.get("/models").json() == {"models": []}


def test_unloading_gives_the_memory_back_before_answering(endpoint, tmp_path):
    url = extracted(tmp_path, "heavy", heavy())
    before = rss_bytes(endpoint.process.pid)
    assert endpoint.client.post("/models", json={"model_name": "heavy", "url": url}).status_code == 200
    reply = endpoint.client.post("/models/heavy/invoke", json=[[1.0] * 4096])
    assert reply.status_code == 200 and np.allclose(reply.json()["predictions"][0][:3], 1.0, rtol=1e-4)
    loaded = rss_bytes(endpoint.process.pid)
    assert loaded - before > 100 * 1024 * 1024  # the weights are resident
    assert endpoint.client.delete("/models/heavy").status_code == 200
    after = rss_bytes(endpoint.process.pid)  # read right after DELETE answered
    assert loaded - after > 100 * 1024 * 1024, (before >> 20, loaded >> 20, after >> 20)


def test_invoke_takes_v2_bodies_json_and_binary(endpoint, tmp_path):
    import json

    from tests.sagemaker.test_invocations import V2_BINARY, v2_binary_body, v2_header, v2_outputs

    url = extracted(tmp_path, "adder", models.add_one(shape=(-1, 3), value=3.0))
    assert endpoint.client.post("/models", json={"model_name": "adder", "url": url}).status_code == 200
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    reply = endpoint.client.post("/models/adder/invoke", content=json.dumps(v2_header({"x": x}, binary=False)).encode(),
                                 headers={"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Model": "adder.tar.gz"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json", reply.text
    assert reply.json()["model_name"] == "adder" and np.array_equal(v2_outputs(reply)["y"], x + 3)
    body, content_type = v2_binary_body({"x": x}, parameters={"binary_data_output": True}, model_name="adder")
    reply = endpoint.client.post("/models/adder/invoke", content=body, headers={"Content-Type": content_type})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(f"{V2_BINARY};json-header-size=")
    assert np.array_equal(v2_outputs(reply)["y"], x + 3)
    body, content_type = v2_binary_body({"x": x}, model_name="other")  # the path names the model; the body may not differ
    reply = endpoint.client.post("/models/adder/invoke", content=body, headers={"Content-Type": content_type})
    assert reply.status_code == 400 and "names model 'other'" in reply.json()["error"] and "['adder']" in reply.json()["error"]


def test_a_v2_body_on_invoke_names_its_version(endpoint, tmp_path):
    url = extracted(tmp_path, "adder", models.add_one(shape=(-1, 3), value=3.0))
    assert endpoint.client.post("/models", json={"model_name": "adder", "url": url}).status_code == 200

    def invoke(version, attributes: str | None = None):
        body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}], "model_version": version}
        headers = {"Content-Type": "application/json"} | ({"X-Amzn-SageMaker-Custom-Attributes": attributes} if attributes else {})
        return endpoint.client.post("/models/adder/invoke", json=body, headers=headers)

    served = invoke("1")
    assert served.status_code == 200 and served.json()["model_version"] == "1"
    assert served.json()["outputs"][0]["data"] == [4.0, 5.0, 6.0]
    unknown, unknown_attribute = invoke("2"), invoke(None, "tfs-model-version=2")
    assert unknown.status_code == unknown_attribute.status_code == 404
    assert unknown.json()["error"] == unknown_attribute.json()["error"]
    conflict = invoke(1, "tfs-model-version=2")
    assert conflict.status_code == 400 and "tfs-model-version asks for 2" in conflict.json()["error"]
