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
        (http_v2("POST", "/invocations", body="x", headers={"Content-Type": "image/gif"}), 415, "expected one of"),
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


def _with(event: dict, *path_and_value: tuple) -> dict:
    """``event`` with fields replaced: each item is (key, key, ..., value)."""
    for *keys, value in path_and_value:
        target = event
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return event


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (_with(http_v2("POST", "/invocations"), ("body", -1)), '"body"'),
        (_with(http_v2("POST", "/invocations"), ("body", [256])), '"body"'),
        (_with(http_v2("POST", "/invocations"), ("body", 1e20)), '"body"'),
        (_with(rest_v1("POST", "/invocations"), ("body", 7)), '"body"'),
        (_with(http_v2("POST", "/invocations", body="1,2,3"), ("isBase64Encoded", "yes")), '"isBase64Encoded"'),
        (rest_v1("POST", "/invocations", body="1,2,3", headers={"Content-Type": 5}), '"headers"'),
        (http_v2("POST", "/invocations", body="1,2,3", headers={"content-type": ["a"]}), '"headers"'),
        (_with(http_v2("POST", "/invocations"), ("headers", "text/csv")), '"headers"'),
        (_with(http_v2("GET", "/ping"), ("rawPath", 5)), '"rawPath"'),
        (_with(http_v2("GET", "/ping"), ("rawPath", "ping")), '"rawPath"'),
        (_with(rest_v1("GET", "/ping"), ("path", ["/ping"])), '"path"'),
        (_with(http_v2("GET", "/ping"), ("requestContext", "http", "method", 5)), '"requestContext.http.method"'),
        (_with(rest_v1("GET", "/ping"), ("httpMethod", None)), '"httpMethod"'),
        (_with(rest_v1("POST", "/invocations", body="1,2,3"), ("multiValueHeaders", {"Content-Type": "abc"})),
         '"multiValueHeaders"'),
        (_with(rest_v1("POST", "/invocations", body="1,2,3"), ("multiValueHeaders", {"Content-Type": [1]})),
         '"multiValueHeaders"'),
        (rest_v1("GET", "/v1/models/%ff/metadata"), "percent-encoded UTF-8"),
    ],
)
def test_malformed_http_events_are_400s_naming_the_field(function, event, fragment):
    code, answer = function.invoke(event)
    assert code == 200 and answer["statusCode"] == 400, answer
    assert fragment in json.loads(answer["body"])["error"], answer


def test_paths_are_percent_decoded_once_where_the_gateway_has_not(function):
    """REST APIs and function URLs pass the path percent-encoded; HTTP APIs decode it themselves (both payload formats)."""
    for event in (rest_v1("GET", "/v1/models/mod%65l/metadata"),
                  http_v2("GET", "/v1/models/mod%65l/metadata", function_url=True)):
        _, answer = function.invoke(event)
        assert answer["statusCode"] == 200 and json.loads(answer["body"])["modelSpec"]["name"] == "model", answer
    for event in (http_v2("GET", "/v1/models/mod%65l/metadata"),
                  rest_v1("GET", "/v1/models/mod%65l/metadata", http_api=True)):
        _, answer = function.invoke(event)  # already decoded: a literal '%65' is not decoded a second time
        assert answer["statusCode"] == 404 and "mod%65l" in json.loads(answer["body"])["error"], answer


def test_health_is_live_and_readiness_follows_the_engine(start_function, tmp_path):
    folder = tmp_path / "broken-model" / "1"
    folder.mkdir(parents=True)
    (folder / "model.xml").write_text("<net/>")
    function = start_function({"MODEL_PATH": str(folder.parent)})
    _, answer = function.invoke(http_v2("POST", "/invocations", body="1,2,3", headers={"Content-Type": "text/csv"}))
    assert answer["statusCode"] >= 400, answer  # the only version fails to load: nothing can serve
    for path in ("/v2/health/ready", "/ping"):
        _, answer = function.invoke(http_v2("GET", path))
        assert answer["statusCode"] == 503, answer
        assert json.loads(answer["body"])["error"].startswith("not ready: model model has no version to serve"), answer
    _, answer = function.invoke(http_v2("GET", "/v2/health/live"))
    assert answer["statusCode"] == 200, answer


def _invocations_rows(rows: int, accept: str) -> dict:
    body = "1,2,3\n" * rows
    return http_v2("POST", "/invocations", body=body, headers={"Content-Type": "text/csv", "Accept": accept})


def test_answers_whose_event_response_exceeds_lambdas_limit_are_413_and_the_environment_stays_warm(start_function,
                                                                                                     vector_model):
    """The limit is on the JSON document the runtime posts (base64 and JSON escaping included), not the raw answer."""
    function = start_function({"MODEL_PATH": str(vector_model)})
    # 450,000 rows as .npy: 5.4 MB raw (under 6 MiB), 7.2 MB once base64-encoded
    # 500,000 rows as CSV: 6.0 MB raw, 6.5 MB once each newline is escaped as \n in the JSON document
    for event, kind in ((_invocations_rows(450_000, "application/x-npy"), "base64"),
                        (_invocations_rows(500_000, "text/csv"), "escaped")):
        code, answer = function.invoke(event)
        assert code == 200 and answer.get("statusCode") == 413, (kind, str(answer)[:300])
        assert "Lambda returns at most" in json.loads(answer["body"])["error"]
        assert answer["headers"]["x-request-id"] == event["requestContext"]["requestId"]  # the 413 keeps the request's id
    _, answer = function.invoke(_invocations_rows(2, "text/csv"))
    assert answer["statusCode"] == 200 and answer["body"] == "3.0,4.0,5.0\n3.0,4.0,5.0"
    assert function.cold_starts() == 1  # no crash, so no second cold start


def test_out_of_memory_is_507_on_invocations_and_503_on_tf_serving_paths(start_function, tmp_path):
    """The same failure reads as each API's convention: SageMaker's 507 on /invocations, 503 on /v1 (issue 12, item 4)."""
    from tests import models

    models.write_version(tmp_path / "zeros", 1, models.broadcast_zeros())
    function = start_function({"MODEL_PATH": str(tmp_path / "zeros")})
    huge = json.dumps({"inputs": [1_000_000, 1_000_000]})
    _, answer = function.invoke(http_v2("POST", "/invocations", body=huge, headers={"Content-Type": "application/json"}))
    assert answer["statusCode"] == 507 and "out of memory" in json.loads(answer["body"])["error"], answer
    _, answer = function.invoke(http_v2("POST", "/v1/models/model:predict", body=huge))
    assert answer["statusCode"] == 503 and "out of memory" in json.loads(answer["body"])["error"], answer
    _, answer = function.invoke(http_v2("POST", "/invocations", body=json.dumps({"inputs": [2, 3]}),
                                        headers={"Content-Type": "application/json"}))
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"outputs": [[0.0] * 3] * 2}


V2_BINARY = "application/vnd.sagemaker-triton.binary+json"


def v2_request(binary: bool, **extra) -> tuple[bytes, int]:
    """A v2 infer body for X (JSON data, or the binary tensor data extension) and its JSON header's length."""
    entry = {"name": "x", "shape": list(X.shape), "datatype": "FP32"}
    entry.update({"parameters": {"binary_data_size": X.nbytes}} if binary else {"data": X.ravel().tolist()})
    header = json.dumps({"inputs": [entry], **extra}).encode()
    return header + (X.astype("<f4").tobytes() if binary else b""), len(header)


def v2_answer_y(body: bytes, header_length: int | None = None) -> np.ndarray:
    header = json.loads(body[:header_length] if header_length else body)
    (output,) = header["outputs"]
    assert output["name"] == "y" and output["datatype"] == "FP32" and output["shape"] == list(X.shape)
    if header_length is None:
        return np.array(output["data"], np.float32).reshape(X.shape)
    assert output["parameters"]["binary_data_size"] == len(body) - header_length
    return np.frombuffer(body[header_length:], "<f4").reshape(X.shape)


@pytest.mark.parametrize("kind", EVENTS)
def test_v2_infer_events_json_and_binary(function, kind):
    make = EVENTS[kind]
    body, _ = v2_request(binary=False, id="lambda-1")
    status, answer = function.invoke(make("POST", "/v2/models/model/versions/1/infer", body=body,
                                          headers={"Content-Type": "application/json"}))
    assert status == 200 and answer["statusCode"] == 200, answer
    assert answer["headers"]["Content-Type"] == "application/json" and answer["isBase64Encoded"] is False
    assert json.loads(answer["body"])["id"] == "lambda-1" and np.array_equal(v2_answer_y(body_of(answer)), X + 1)

    body, header_length = v2_request(binary=True, parameters={"binary_data_output": True})
    status, answer = function.invoke(make("POST", "/v2/models/model/infer", body=body, binary=True,
                                          headers={"Inference-Header-Content-Length": str(header_length),
                                                   "Content-Type": "application/octet-stream"}))
    assert status == 200 and answer["statusCode"] == 200, answer
    assert answer["isBase64Encoded"] is True and answer["headers"]["Content-Type"] == "application/octet-stream"
    out_length = int(answer["headers"]["Inference-Header-Content-Length"])
    assert np.array_equal(v2_answer_y(body_of(answer), out_length), X + 2)
    if kind == "rest-v1":
        assert answer["multiValueHeaders"]["Inference-Header-Content-Length"] == [str(out_length)]


def test_v2_infer_errors_are_json_400s(function):
    body, header_length = v2_request(binary=True)
    _, answer = function.invoke(http_v2("POST", "/v2/models/model/infer", body=body, binary=True,
                                        headers={"Inference-Header-Content-Length": str(len(body) + 1)}))
    assert answer["statusCode"] == 400 and answer["headers"]["Content-Type"] == "application/json"
    assert "Inference-Header-Content-Length" in json.loads(answer["body"])["error"]
    _, answer = function.invoke(http_v2("POST", "/v2/models/nope/infer", body=v2_request(binary=False)[0]))
    assert answer["statusCode"] == 404 and "nope" in json.loads(answer["body"])["error"]


@pytest.mark.parametrize("kind", EVENTS)
def test_v2_bodies_on_invocations(function, kind):
    make = EVENTS[kind]
    body, _ = v2_request(binary=False)
    _, answer = function.invoke(make("POST", "/invocations", body=body, headers={"Content-Type": "application/json"}))
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "application/json", answer
    assert np.array_equal(v2_answer_y(body_of(answer)), X + 2)

    body, header_length = v2_request(binary=True, outputs=[{"name": "y", "parameters": {"binary_data": True}}])
    _, answer = function.invoke(make("POST", "/invocations", body=body, binary=True,
                                     headers={"Content-Type": f"{V2_BINARY};json-header-size={header_length}",
                                              "X-Amzn-SageMaker-Custom-Attributes": "tfs-model-version=1"}))
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is True, answer
    prefix = f"{V2_BINARY};json-header-size="
    assert answer["headers"]["Content-Type"].startswith(prefix)
    assert np.array_equal(v2_answer_y(body_of(answer), int(answer["headers"]["Content-Type"][len(prefix):])), X + 1)


def test_v2_repository_extension_is_not_offered(function):
    """A function serves the models it was deployed with: no model_repository in GET /v2, its paths a clear 404."""
    _, answer = function.invoke(http_v2("GET", "/v2"))
    assert answer["statusCode"] == 200 and "model_repository" not in json.loads(answer["body"])["extensions"]
    for path in ("/v2/repository/index", "/v2/repository/models/model/unload"):
        _, answer = function.invoke(http_v2("POST", path, body="{}"))
        assert answer["statusCode"] == 404 and answer["headers"]["Content-Type"] == "application/json", answer
        assert "not available on AWS Lambda" in json.loads(answer["body"])["error"]


def test_v2_model_version_on_invocations(function):
    def invoke(attributes: str | None = None, **extra):
        body, _ = v2_request(binary=False, **extra)
        headers = {"Content-Type": "application/json"} | ({"X-Amzn-SageMaker-Custom-Attributes": attributes} if attributes else {})
        _, answer = function.invoke(http_v2("POST", "/invocations", body=body, headers=headers))
        return answer

    answer = invoke(model_version="1")
    assert answer["statusCode"] == 200 and json.loads(body_of(answer))["model_version"] == "1", answer
    assert np.array_equal(v2_answer_y(body_of(answer)), X + 1)
    answer = invoke("tfs-model-version=2", model_version="1")
    assert answer["statusCode"] == 400 and "tfs-model-version asks for 2" in json.loads(answer["body"])["error"]
    unknown, unknown_attribute = invoke(model_version="9"), invoke("tfs-model-version=9")
    assert unknown["statusCode"] == unknown_attribute["statusCode"] == 404
    assert json.loads(unknown["body"])["error"] == json.loads(unknown_attribute["body"])["error"]
