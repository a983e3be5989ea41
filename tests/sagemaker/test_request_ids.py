"""Request ids on a real ``serve`` process: the caller's, else SageMaker's, else a new one; echoed and on the request's lines.

SageMaker's runtime API forwards ``X-Amzn-SageMaker-Inference-Id`` to the
container (aws-contracts.md A), so that id finds the request's lines when no
``x-request-id`` is sent; ``X-Amzn-RequestId`` comes next. The access lines
are turned on at INFO (``OVSERVE_ACCESS_LOG``) to read them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests import models

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def endpoint(start_sagemaker, tmp_path: Path):
    folder = tmp_path / "opt-ml-model"
    models.write_version(folder, 1, models.add_one(shape=(-1, 4)))
    return start_sagemaker({"OVSERVE_MODEL_PATH": str(folder), "OVSERVE_ACCESS_LOG": "INFO"})


def access_lines(endpoint) -> dict[str, dict]:
    """The access lines written so far, by request id."""
    lines = [json.loads(line) for line in endpoint.read_log().splitlines() if line.startswith("{")]
    return {line["request_id"]: line for line in lines if line["logger"] == "ovserve.access"}


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-request-id": "mine", "X-Amzn-SageMaker-Inference-Id": "sm-1"}, "mine"),
    ({"X-Amzn-SageMaker-Inference-Id": "sm-2", "X-Amzn-RequestId": "aws-2"}, "sm-2"),
    ({"X-Amzn-RequestId": "aws-3"}, "aws-3"),
    ({"x-request-id": "has space", "X-Amzn-RequestId": "aws-4"}, "aws-4"),
])
def test_the_first_usable_id_is_taken_echoed_and_logged(endpoint, headers: dict, expected: str) -> None:
    answer = endpoint.client.post("/invocations", content=b"1,2,3,4", headers={**CSV, **headers})

    assert answer.status_code == 200 and answer.headers["x-request-id"] == expected
    line = access_lines(endpoint)[expected]
    assert {key: line[key] for key in ("method", "path", "model", "version", "status", "bytes_in")} == {
        "method": "POST", "path": "/invocations", "model": "model", "version": 1, "status": 200, "bytes_in": 7}


def test_an_id_is_made_when_none_is_sent_and_failures_carry_theirs(endpoint) -> None:
    made = endpoint.client.post("/invocations", content=b"1,2,3,4", headers=CSV).headers["x-request-id"]
    refused = endpoint.client.post("/invocations", content=b"1,2", headers={**CSV, "X-Amzn-SageMaker-Inference-Id": "sm-bad"})
    ping = endpoint.client.get("/ping", headers={"x-request-id": "probe"})

    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert refused.status_code == 400 and refused.headers["x-request-id"] == "sm-bad"
    assert ping.headers["x-request-id"] == "probe"
    lines = access_lines(endpoint)
    assert lines[made]["status"] == 200 and lines["sm-bad"]["status"] == 400 and lines["probe"]["path"] == "/ping"
