"""A ``handler(data, context)`` script from a real model.tar.gz on a real ``serve``: it posts to ``context.rest_uri``
with ``requests``, calls ``context.grpc_port`` with ``grpc``, imports from ``code/lib``, reads custom attributes,
and fails in each of the ways a script can, with the status each failure deserves."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import models
from tests.sagemaker.script_archives import extracted, log_lines, started, tarball

SCRIPT = '''
    """A handler as written for AWS's TF Serving container; the custom attribute case=... picks what it does."""
    import json
    import sys

    import grpc
    import numpy as np
    import requests

    import csv_helpers  # code/lib/csv_helpers.py
    from ovserve.handler.protos import serving_apis_pb2  # TF Serving's messages, as tensorflow_serving.apis has them

    FIELDS = ("model_name", "model_version", "method", "rest_uri", "grpc_port", "custom_attributes",
              "request_content_type", "accept_header", "content_length")


    def _case(context):
        for part in (context.custom_attributes or "").split(","):
            key, _, value = part.partition("=")
            if key.strip() == "case":
                return value.strip()
        return "rest"


    def _grpc_predict(channel, model, rows):
        request = serving_apis_pb2.PredictRequest()
        request.model_spec.name = model
        tensor = request.inputs["x"]
        tensor.dtype = 1  # DT_FLOAT
        array = np.asarray(rows, dtype=np.float32)
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = array.tobytes()
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                      request_serializer=serving_apis_pb2.PredictRequest.SerializeToString,
                                      response_deserializer=serving_apis_pb2.PredictResponse.FromString)
        answer = predict(request, timeout=30).outputs["y"]
        shape = [d.size for d in answer.tensor_shape.dim]
        return np.frombuffer(answer.tensor_content, dtype=np.float32).reshape(shape).tolist()


    def handler(data, context):
        case = _case(context)
        body = data.read()
        if case == "rest":
            response = requests.post(context.rest_uri, data=json.dumps({"instances": csv_helpers.rows(body)}))
            response.raise_for_status()
            return json.dumps({"predictions": response.json()["predictions"], "rest_uri": context.rest_uri}), "application/json"
        if case == "context":
            return json.dumps({field: getattr(context, field) for field in FIELDS}), "application/json"
        if case == "grpc":
            with grpc.insecure_channel(f"localhost:{context.grpc_port}") as channel:
                predictions = _grpc_predict(channel, context.model_name, csv_helpers.rows(body))
            return json.dumps({"predictions": predictions}), "application/json"
        if case == "channel":
            predictions = _grpc_predict(context.channel, context.model_name, csv_helpers.rows(body))
            return json.dumps({"predictions": predictions}), "application/json"
        if case == "echo":
            return body, context.request_content_type
        if case == "teapot":
            return json.dumps({"error": "this endpoint brews no coffee"}), "application/json", 418
        if case == "raise":
            raise KeyError("no column named price")
        if case == "exit":
            sys.exit(3)
        return "unknown case", "text/plain"
'''

HELPERS = '''
    def rows(body):
        return [[float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()]
'''


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """/opt/ml/model from a tarball with config.json (plus1, plus10), code/inference.py, code/lib, and a
    requirements.txt that cannot install: code/lib wins over it, as in AWS's container."""
    root = tmp_path_factory.mktemp("handler")
    archive = tarball(
        root / "model.tar.gz",
        config={"plus1": {1: models.add_one(shape=(-1, 3), value=1.0)},
                "plus10": {1: models.add_one(shape=(-1, 3), value=10.0), 2: models.add_one(shape=(-1, 3), value=20.0)}},
        code={"inference.py": SCRIPT, "lib/csv_helpers.py": HELPERS, "requirements.txt": "this is not a requirement !!\n"},
    )
    server = started(root, extracted(archive, root / "opt-ml-model"), {"OVSERVE_SCRIPT_THREADS": "4"})
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def invoke(endpoint, body: bytes, case: str, *, content_type: str = "text/csv", extra: str = "", **headers: str):
    attributes = f"case={case}" + (f",{extra}" if extra else "")
    return endpoint.client.post("/invocations", content=body, headers={
        "Content-Type": content_type, "X-Amzn-SageMaker-Custom-Attributes": attributes, **headers})


def test_handler_posts_to_rest_uri_with_requests(endpoint):
    reply = invoke(endpoint, b"1,2,3\n4,5,6", "rest")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    answer = reply.json()
    assert answer["predictions"] == [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]]
    assert answer["rest_uri"].startswith("http://127.0.0.1:") and answer["rest_uri"].endswith("/v1/models/plus1:predict")


def test_custom_attributes_choose_the_model_and_version_in_rest_uri(endpoint):
    reply = invoke(endpoint, b"1,2,3", "rest", extra="tfs-model-name=plus10,tfs-model-version=2")
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == [[21.0, 22.0, 23.0]]
    assert reply.json()["rest_uri"].endswith("/v1/models/plus10/versions/2:predict")


def test_context_carries_the_request(endpoint):
    reply = invoke(endpoint, b"1,2,3", "context", extra="tfs-model-name=plus10,tfs-method=predict,trace=abc",
                   Accept="application/jsonlines")
    assert reply.status_code == 200, reply.text
    context = reply.json()
    assert context["model_name"] == "plus10"
    assert context["model_version"] is None and context["method"] == "predict"
    assert context["custom_attributes"] == "case=context,tfs-model-name=plus10,tfs-method=predict,trace=abc"
    assert context["request_content_type"] == "text/csv" and context["accept_header"] == "application/jsonlines"
    assert context["content_length"] == 5
    assert context["grpc_port"].isdigit() and context["rest_uri"].endswith("/v1/models/plus10:predict")


def test_handler_calls_the_grpc_port(endpoint):
    reply = invoke(endpoint, b"0.5,1,2", "grpc", extra="tfs-model-name=plus10")
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == [[20.5, 21.0, 22.0]]  # the latest version (2) adds 20


def test_single_model_context_has_a_ready_grpc_channel(endpoint):
    reply = invoke(endpoint, b"1,1,1", "channel")
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"] == [[2.0, 2.0, 2.0]]


def test_the_script_sees_a_multi_record_body_whole(endpoint):
    body = b'{"x": [1, 2, 3]}\n{"x": [4, 5, 6]}\n{"x": [7, 8, 9]}\n'
    reply = invoke(endpoint, body, "echo", content_type="application/jsonlines")
    assert reply.status_code == 200 and reply.content == body
    assert reply.headers["content-type"] == "application/jsonlines"


def test_a_bad_tensor_keeps_the_tf_serving_status(endpoint):
    reply = invoke(endpoint, b"1,2", "rest")  # two values for a [-1, 3] input: TF Serving's 400, raised by raise_for_status
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert "inference.py: handler raised HTTPError" in error and "Obtained shape [1, 2], required shape [-1, 3]" in error


def test_a_script_may_answer_its_own_status(endpoint):
    reply = invoke(endpoint, b"", "teapot")
    assert reply.status_code == 418 and reply.json() == {"error": "this endpoint brews no coffee"}


def test_an_exception_is_a_500_naming_script_function_and_exception_with_the_traceback_logged(endpoint):
    reply = invoke(endpoint, b"1,2,3", "raise")
    assert reply.status_code == 500
    error = reply.json()["error"]
    assert error.endswith("code/inference.py: handler raised KeyError: 'no column named price'"), error
    assert "Traceback" not in error
    logged = [line for line in log_lines(endpoint) if line.get("msg") == "script raised"]
    assert logged and "raise KeyError(\"no column named price\")" in logged[-1]["traceback"]
    assert logged[-1]["function"] == "handler" and logged[-1]["script"].endswith("code/inference.py")


def test_sys_exit_in_a_script_fails_the_request_not_the_server(endpoint):
    reply = invoke(endpoint, b"", "exit")
    assert reply.status_code == 500 and "handler raised SystemExit: 3" in reply.json()["error"]
    assert invoke(endpoint, b"1,2,3", "rest").status_code == 200


def test_scripts_calling_back_never_block_the_server(endpoint):
    """24 requests at once on 4 script threads, each posting back to the loopback server: none waits forever."""
    with ThreadPoolExecutor(24) as pool:
        replies = list(pool.map(lambda i: invoke(endpoint, f"{i},{i},{i}".encode(), "rest"), range(24)))
        assert endpoint.client.get("/ping").status_code == 200
    assert [r.status_code for r in replies] == [200] * 24
    assert [r.json()["predictions"] for r in replies] == [[[i + 1.0] * 3] for i in range(24)]


def test_the_requirements_file_was_not_installed_because_code_lib_exists(endpoint):
    skipped = [line for line in log_lines(endpoint) if line.get("msg", "").startswith("requirements.txt not installed")]
    assert len(skipped) == 1 and skipped[0]["lib"].endswith("code/lib")
    assert skipped[0]["requirements"].endswith("code/requirements.txt")
    assert not any(line.get("msg") == "installing requirements" for line in log_lines(endpoint))
