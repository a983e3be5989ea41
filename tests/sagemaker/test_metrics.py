"""``GET /metrics`` on a real ``serve`` process: invocations counted under api="SageMaker", failures as failures.

SageMaker does not scrape containers, but the same image run standalone can
be, so ``OVSERVE_METRICS_ENABLE=true`` turns the same families on as on the
standalone server, on the container's one port. Scrapes are read with
prometheus_client's text parser and compared as differences.
"""

from __future__ import annotations

from pathlib import Path

from tests import models
from tests.metrics_scrape import scrape
from tests.sagemaker.test_multi_model import MME, extracted

ON = {"OVSERVE_METRICS_ENABLE": "true"}
INVOCATIONS = {"api": "SageMaker", "interface": "REST", "method": "Invocations"}


def model_dir(root: Path) -> Path:
    folder = root / "opt-ml-model"
    models.write_version(folder, 1, models.add_one(shape=(-1, 4)))
    return folder


def test_invocations_count_exactly_and_failures_count_as_failures(start_sagemaker, tmp_path: Path) -> None:
    endpoint = start_sagemaker({**ON, "OVSERVE_MODEL_PATH": str(model_dir(tmp_path))})
    labels = {**INVOCATIONS, "name": "model", "version": "1"}
    before = scrape(endpoint.client)
    assert before.value("ovms_requests_success", **labels) == 0  # pre-created at zero, as OVMS does per version
    assert before.value("ovms_request_time_us", "_count", interface="REST", name="model", version="1") == 0

    for _ in range(5):
        assert endpoint.client.post("/invocations", content=b"1,2,3,4", headers={"Content-Type": "text/csv"}).status_code == 200
    for _ in range(2):
        assert endpoint.client.post("/invocations", content=b"1,2", headers={"Content-Type": "text/csv"}).status_code == 400
    assert endpoint.client.get("/ping").status_code == 200  # not a model's request: not counted
    after = scrape(endpoint.client)

    assert after.value("ovms_requests_success", **labels) == 5
    assert after.value("ovms_requests_fail", **labels) == 2
    assert after.value("ovms_request_time_us", "_count", interface="REST", name="model", version="1") == 7
    buckets = [count for _, count in after.buckets("ovms_request_time_us", interface="REST", name="model", version="1")]
    assert len(buckets) == 34 and buckets == sorted(buckets) and buckets[-1] == 7
    assert after.value("ovms_inference_time_us", "_count", name="model", version="1") == 5
    assert after.value("ovserve_model_load_time_us", "_count", name="model", source="compile") == 1
    assert not any(s.labels.get("api") in ("TensorFlowServing", "KServe") for s in after.samples("ovms_requests_success"))


def test_metrics_are_off_unless_enabled(start_sagemaker, tmp_path: Path) -> None:
    endpoint = start_sagemaker({"OVSERVE_MODEL_PATH": str(model_dir(tmp_path))})

    answer = endpoint.client.get("/metrics")

    assert answer.status_code == 400
    assert answer.json() == {"error": "Invalid request URL: metrics are not enabled; start the container with OVSERVE_METRICS_ENABLE=true"}


def test_a_multi_model_endpoint_drops_an_unloaded_models_series(start_sagemaker, tmp_path: Path) -> None:
    endpoint = start_sagemaker({**MME, **ON})
    url = extracted(tmp_path, "adder", models.add_one(shape=(-1, 3)))
    assert endpoint.client.post("/models", json={"model_name": "adder", "url": url}).status_code == 200
    assert endpoint.client.post("/models/adder/invoke", content=b"1,2,3", headers={"Content-Type": "text/csv"}).status_code == 200
    assert scrape(endpoint.client).value("ovms_requests_success", **INVOCATIONS, name="adder", version="1") == 1

    assert endpoint.client.delete("/models/adder").status_code == 200

    assert 'name="adder"' not in scrape(endpoint.client).text
