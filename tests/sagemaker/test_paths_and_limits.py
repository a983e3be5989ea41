"""SageMaker's app at its edges, on real ``serve`` processes: encoded model names, oversized heads, out of memory.

One multi-model endpoint carries most checks: names SageMaker may choose
(spaces, non-ASCII) reached through their percent-encoded paths, 431/414 for
oversized heads, and 507 when memory runs out while a model loads or infers
(SageMaker's signal to evict a model). One single-model endpoint checks 507
on ``/invocations``. ``broadcast_zeros`` asked for ``[1000000, 1000000]``
makes OpenVINO fail to allocate 4 TB without touching memory; ``huge`` fails
the same way while compiling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from tests import models
from tests.sagemaker.test_multi_model import MME, extracted

HEAD_LIMIT = 8192
HUGE_SHAPE = {"inputs": [1_000_000, 1_000_000]}


def huge() -> ov.Model:
    """x [1] + the sum of a constant 10^6 x 10^6 broadcast: compiling folds the constant and fails to allocate."""
    x = ops.parameter([1], ov.Type.f32, name="x")
    big = ops.broadcast(ops.constant(np.float32(0)), ops.constant(np.array([1_000_000, 1_000_000], np.int64)))
    y = ops.add(ops.reduce_sum(big, ops.constant(np.array([0, 1], np.int64)), keep_dims=False), x)
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "huge")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    from tests.sagemakerproc import F32_ENV, SageMakerServer

    root = tmp_path_factory.mktemp("mme_edges")
    server = SageMakerServer({**F32_ENV, **MME}, root / "serve.log")
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    return response.json()["error"]


@pytest.mark.parametrize(("name", "encoded"), [("my model", "my%20model"), ("café-€", "caf%C3%A9-%E2%82%AC"), ("a:b", "a%3Ab")])
def test_a_model_named_with_reserved_characters_is_reachable_and_removable(endpoint, tmp_path: Path, name: str, encoded: str):
    url = extracted(tmp_path, "m", models.add_one(shape=(-1, 3), value=3.0))
    assert endpoint.client.post("/models", json={"model_name": name, "url": url}).status_code == 200
    assert endpoint.client.get(f"/models/{encoded}").json() == {"modelName": name, "modelUrl": url}
    reply = endpoint.client.post(f"/models/{encoded}/invoke", content=b"1,2,3", headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert reply.status_code == 200 and reply.text == "4.0,5.0,6.0", reply.text
    assert endpoint.client.delete(f"/models/{encoded}").status_code == 200
    assert f"model {name} is not loaded" in error_of(endpoint.client.get(f"/models/{encoded}"), 404)
    assert endpoint.client.get("/models").json() == {"models": []}


def test_a_path_that_is_not_percent_encoded_utf8_is_a_400(endpoint):
    assert "percent-encoded UTF-8" in error_of(endpoint.client.get("/models/caf%E9"), 400)


def test_oversized_heads_are_431_and_414_naming_the_real_limit(endpoint):
    headers = error_of(endpoint.client.get("/ping", headers={"X-Big": "a" * (HEAD_LIMIT + 2000)}), 431)
    url = error_of(endpoint.client.get("/models", params={"q": "a" * (HEAD_LIMIT + 2000)}), 414)
    for message in (headers, url):
        assert f"{HEAD_LIMIT} bytes" in message and "SAGEMAKER_MAX_PAYLOAD_IN_MB" not in message
    assert endpoint.client.get("/ping").status_code == 200


def test_running_out_of_memory_while_loading_or_inferring_is_507(endpoint, tmp_path: Path):
    url = extracted(tmp_path, "huge", huge())
    message = error_of(endpoint.client.post("/models", json={"model_name": "huge", "url": url}), 507)
    assert "does not fit in memory" in message
    zeros = extracted(tmp_path, "zeros", models.broadcast_zeros())
    assert endpoint.client.post("/models", json={"model_name": "zeros", "url": zeros}).status_code == 200
    message = error_of(endpoint.client.post("/models/zeros/invoke", json=HUGE_SHAPE), 507)
    assert "out of memory" in message and "4000000000000 bytes" in message
    assert endpoint.client.post("/models/zeros/invoke", json={"inputs": [2, 3]}).json() == {"outputs": [[0.0] * 3] * 2}
    assert "inference failed" in error_of(endpoint.client.post("/models/zeros/invoke", json={"inputs": [-1, 3]}), 400)
    assert [m["modelName"] for m in endpoint.client.get("/models").json()["models"]] == ["zeros"]
    assert endpoint.client.delete("/models/zeros").status_code == 200


def test_invocations_that_run_out_of_memory_get_507(start_sagemaker, tmp_path: Path):
    models.write_version(tmp_path / "zeros", 1, models.broadcast_zeros())
    endpoint = start_sagemaker({"OVSERVE_MODEL_PATH": str(tmp_path / "zeros")})
    message = error_of(endpoint.client.post("/invocations", json=HUGE_SHAPE), 507)
    assert "out of memory" in message
    assert endpoint.client.post("/invocations", json={"inputs": [2, 3]}).json() == {"outputs": [[0.0] * 3] * 2}
