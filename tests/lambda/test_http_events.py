"""HTTP events through the real emulator + awslambdaric: API Gateway REST (v1), HTTP API (v2), function URLs."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from tests.lambda_events import http_v2, rest_v1
from tests.lambdaproc import Emulator

X = np.array([[1, 2, 3], [4.5, 5, 6]], dtype=np.float32)


@pytest.fixture(scope="module")
def function(tmp_path_factory):
    from tests import models

    root = tmp_path_factory.mktemp("lambda-http")
    folder = root / "opt-ml-model"
    models.write_version(folder, 1, models.add_one(shape=(-1, 3), value=1.0))
    models.write_version(folder, 2, models.add_one(shape=(-1, 3), value=2.0))
    emulator = Emulator({"MODEL_PATH": str(folder), "OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}',
                         "OVSERVE_MAX_PAYLOAD_MB": "1"}, root / "function.log")
    try:
        yield emulator
    finally:
        emulator.stop()


def body_of(answer: dict) -> bytes:
    return base64.b64decode(answer["body"]) if answer["isBase64Encoded"] else answer["body"].encode()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


EVENTS = {
    "rest-v1": lambda method, path, **kw: rest_v1(method, path, **kw),
    "http-api-v2": lambda method, path, **kw: http_v2(method, path, **kw),
    "function-url": lambda method, path, **kw: http_v2(method, path, function_url=True, **kw),
}


@pytest.mark.parametrize("kind", EVENTS)
def test_tf_serving_predict_metadata_and_status(function, kind):
    make = EVENTS[kind]
    status, answer = function.invoke(make("POST", "/v1/models/model:predict", body=json.dumps({"instances": X.tolist()}),
                                          headers={"Content-Type": "application/json"}))
    assert status == 200 and answer["statusCode"] == 200, answer
    assert np.allclose(json.loads(answer["body"])["predictions"], X + 2)
    _, answer = function.invoke(make("POST", "/v1/models/model/versions/1:predict", body=json.dumps({"inputs": X.tolist()})))
    assert np.allclose(json.loads(answer["body"])["outputs"], X + 1)
    _, answer = function.invoke(make("GET", "/v1/models/model/metadata"))
    assert json.loads(answer["body"])["modelSpec"]["version"] == "2"
    _, answer = function.invoke(make("GET", "/v1/models/model"))
    assert [v["version"] for v in json.loads(answer["body"])["model_version_status"]] == ["1", "2"]


@pytest.mark.parametrize("kind", EVENTS)
def test_invocations_with_binary_bodies_both_ways(function, kind):
    event = EVENTS[kind]("POST", "/invocations", body=npy(X), binary=True,
                         headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy",
                                  "X-Amzn-SageMaker-Custom-Attributes": "tfs-model-version=1"})
    status, answer = function.invoke(event)
    assert status == 200 and answer["statusCode"] == 200 and answer["isBase64Encoded"] is True, answer
    assert answer["headers"]["Content-Type"] == "application/x-npy"
    assert np.allclose(np.load(io.BytesIO(body_of(answer))), X + 1)


def test_csv_records_and_text_answers(function):
    event = http_v2("POST", "/invocations", body="1,2,3\n4,5,6", headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    _, answer = function.invoke(event)
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is False and answer["body"] == "3.0,4.0,5.0\n6.0,7.0,8.0"


@pytest.mark.parametrize(
    ("event", "status", "fragment"),
    [
        (rest_v1("POST", "/v1/models/nope:predict", body='{"instances": [[1, 2, 3]]}'), 404, "nope"),
        (rest_v1("GET", "/v1/models/model:predict"), 405, "takes POST"),
        (http_v2("POST", "/invocations", body="x", headers={"Content-Type": "image/png"}), 415, "expected one of"),
        (http_v2("POST", "/invocations", body="1,2", headers={"Content-Type": "text/csv"}), 400, "takes 3 per record"),
        (http_v2("POST", "/invocations", body="1,2,3", headers={"Content-Type": "text/csv", "Accept": "image/png"}), 406, "Accept"),
        (http_v2("POST", "/invocations", body="!!", binary=False, headers={"Content-Type": "application/x-npy"}), 400, "numpy.save"),
        (http_v2("GET", "/somewhere/else"), 404, "no such endpoint"),
        (http_v2("POST", "/invocations", body="1,2,3\n" * 200_000, headers={"Content-Type": "text/csv"}), 413, "OVSERVE_MAX_PAYLOAD_MB"),
    ],
)
def test_errors_become_gateway_responses_with_status_codes(function, event, status, fragment):
    code, answer = function.invoke(event)
    assert code == 200 and answer["statusCode"] == status, answer
    assert fragment in json.loads(answer["body"])["error"]


def test_a_body_marked_base64_that_is_not_is_a_400(function):
    event = http_v2("POST", "/invocations", body="1,2,3", headers={"Content-Type": "text/csv"})
    event["isBase64Encoded"] = True
    event["body"] = "not base64!"
    _, answer = function.invoke(event)
    assert answer["statusCode"] == 400 and "base64" in json.loads(answer["body"])["error"]


def test_health_paths_answer(function):
    for path in ("/ping", "/v2/health/ready"):
        _, answer = function.invoke(http_v2("GET", path, stage="$default"))
        assert answer["statusCode"] == 200
