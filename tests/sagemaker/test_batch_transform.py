"""Batch transform against a real ``serve`` process, driven the way SageMaker drives it.

``transform`` plays the platform: it asks ``/execution-parameters``, cuts an
input file into multi-record requests no larger than ``MaxPayloadInMB`` (split
by line), sends up to ``MaxConcurrentTransforms`` at once and assembles the
answers by line into the ``.out`` file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pytest

from tests import models

BATCH = {"SAGEMAKER_BATCH": "true"}


def transform(endpoint, lines: list[bytes], content_type: str, accept: str, max_payload_bytes: int | None = None) -> list[bytes]:
    parameters = endpoint.client.get("/execution-parameters").json()
    assert parameters["BatchStrategy"] == "MULTI_RECORD"
    limit = max_payload_bytes or parameters["MaxPayloadInMB"] * 1024 * 1024
    payloads, current = [], []
    for line in lines:
        if current and sum(len(x) + 1 for x in current) + len(line) > limit:
            payloads.append(b"\n".join(current))
            current = []
        current.append(line)
    payloads.append(b"\n".join(current))

    def send(body: bytes) -> bytes:
        reply = endpoint.client.post("/invocations", content=body, headers={"Content-Type": content_type, "Accept": accept})
        assert reply.status_code == 200, reply.text
        return reply.content

    with ThreadPoolExecutor(parameters["MaxConcurrentTransforms"]) as pool:
        answers = list(pool.map(send, payloads))
    assert len(payloads) > 1 or max_payload_bytes is None
    return b"\n".join(answers).split(b"\n")


@pytest.fixture
def batch_of_four(start_sagemaker, tmp_path):
    """A model that takes exactly 4 records per inference: y = x + 1 over [4, 3]."""
    models.write_version(tmp_path / "model", 1, models.add_one(shape=(4, 3)))
    return start_sagemaker({**BATCH, "OVSERVE_MODEL_PATH": str(tmp_path / "model")})


def records(count: int) -> np.ndarray:
    return np.arange(count * 3, dtype=np.float32).reshape(count, 3) / 4


def test_execution_parameters_follow_the_environment(start_sagemaker, tmp_path):
    models.write_version(tmp_path / "model", 1, models.add_one(shape=(-1, 3)))
    endpoint = start_sagemaker({**BATCH, "OVSERVE_MODEL_PATH": str(tmp_path / "model"), "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
                                "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "3"})
    assert endpoint.client.get("/execution-parameters").json() == {
        "MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 20,
    }


def test_a_jsonlines_file_comes_back_one_line_per_record_in_order(batch_of_four):
    data = records(1001)  # not a multiple of 4: the last batch is padded
    lines = [orjson.dumps(row.tolist()) for row in data]
    out = transform(batch_of_four, lines, "application/jsonlines", "application/jsonlines", max_payload_bytes=4000)
    assert len(out) == len(lines)
    assert np.allclose(np.array([orjson.loads(line) for line in out]), data + 1)


def test_a_csv_file_comes_back_one_row_per_record_in_order(batch_of_four):
    data = records(999)
    lines = [",".join(repr(float(v)) for v in row).encode() for row in data]
    out = transform(batch_of_four, lines, "text/csv", "text/csv", max_payload_bytes=3000)
    assert len(out) == len(lines)
    assert np.allclose(np.array([[float(v) for v in line.split(b",")] for line in out]), data + 1)


def test_csv_in_jsonlines_out(batch_of_four):
    data = records(7)
    body = "\n".join(",".join(str(v) for v in row) for row in data).encode()
    reply = batch_of_four.client.post("/invocations", content=body,
                                      headers={"Content-Type": "text/csv", "Accept": "application/jsonlines"})
    assert reply.status_code == 200
    assert np.allclose([orjson.loads(line) for line in reply.content.split(b"\n")], data + 1)


def test_named_records_for_a_multi_input_model(start_sagemaker, tmp_path):
    models.write_version(tmp_path / "model", 1, models.two_in_two_out(rows=2))
    endpoint = start_sagemaker({**BATCH, "OVSERVE_MODEL_PATH": str(tmp_path / "model")})
    lines = [orjson.dumps({"a": [i, i, i], "b": [2, 2, 2]}) for i in range(5)]
    out = transform(endpoint, lines, "application/jsonlines", "application/jsonlines")
    answers = [orjson.loads(line) for line in out]
    assert [a["sum"][0] for a in answers] == [i + 2 for i in range(5)]
    assert [a["product"][0] for a in answers] == [i * 2 for i in range(5)]


def test_a_record_that_does_not_fit_fails_its_request_with_400_naming_it(batch_of_four):
    body = b"[1, 2, 3]\n[1, 2]\n"
    reply = batch_of_four.client.post("/invocations", content=body, headers={"Content-Type": "application/jsonlines"})
    assert reply.status_code == 400 and "rectangular" in reply.json()["error"]


def test_a_mini_batch_over_the_payload_limit_gets_413(start_sagemaker, tmp_path):
    models.write_version(tmp_path / "model", 1, models.add_one(shape=(-1, 3)))
    endpoint = start_sagemaker({**BATCH, "OVSERVE_MODEL_PATH": str(tmp_path / "model"), "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    body = b"\n".join([b"1,2,3"] * 200_000)
    reply = endpoint.client.post("/invocations", content=body, headers={"Content-Type": "text/csv"})
    assert reply.status_code == 413 and "SAGEMAKER_MAX_PAYLOAD_IN_MB" in reply.json()["error"]


def test_json_content_with_line_splitting_answers_one_line_per_record(batch_of_four):
    """SplitType=Line with ContentType=application/json: each mini-batch is several JSON documents, one per line."""
    data = records(6)
    body = b"\n".join(orjson.dumps(row.tolist()) for row in data)
    reply = batch_of_four.client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert np.allclose([orjson.loads(line) for line in reply.content.split(b"\n")], data + 1)
    broken = batch_of_four.client.post("/invocations", content=b"[1, 2, 3]\n[1, 2", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
