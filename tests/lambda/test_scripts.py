"""``code/inference.py`` in a Lambda function, through the real emulator: HTTP ``/invocations`` and direct invocations
run the script (which posts to ``context.rest_uri`` with ``requests``), and a broken script fails the init phase."""

from __future__ import annotations

import json

import pytest

from tests import models
from tests.lambda_events import http_v2
from tests.lambdaproc import Emulator
from tests.sagemaker.script_archives import LOOPBACK_ANY_PORT, extracted, tarball

SCRIPT = '''
    import json

    import grpc
    import numpy as np
    import requests

    from ovserve.handler.protos import serving_apis_pb2


    def _grpc(context, rows):
        request = serving_apis_pb2.PredictRequest()
        request.model_spec.name = context.model_name
        array = np.asarray(rows, dtype=np.float32)
        tensor = request.inputs["x"]
        tensor.dtype = 1
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = array.tobytes()
        with grpc.insecure_channel(f"localhost:{context.grpc_port}") as channel:
            call = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                       request_serializer=serving_apis_pb2.PredictRequest.SerializeToString,
                                       response_deserializer=serving_apis_pb2.PredictResponse.FromString)
            answer = call(request, timeout=30).outputs["y"]
        return np.frombuffer(answer.tensor_content, dtype=np.float32).reshape([d.size for d in answer.tensor_shape.dim]).tolist()


    def handler(data, context):
        body = data.read()
        if context.request_content_type == "text/csv":
            payload = {"instances": [[float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()]}
        else:
            payload = json.loads(body)
        if "grpc" in (context.custom_attributes or ""):
            return json.dumps({"predictions": _grpc(context, payload["instances"])}), "application/json"
        response = requests.post(context.rest_uri, json=payload)
        if response.status_code != 200:
            return response.content, "application/json", response.status_code
        return json.dumps({"predictions": response.json()["predictions"], "rest_uri": context.rest_uri,
                           "model_version": context.model_version}), "application/json"
'''


@pytest.fixture(scope="module")
def function(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda-script")
    archive = tarball(root / "model.tar.gz", versions={1: models.add_one(shape=(-1, 3), value=1.0),
                                                       2: models.add_one(shape=(-1, 3), value=2.0)},
                      code={"inference.py": SCRIPT})
    folder = extracted(archive, root / "opt-ml-model")
    emulator = Emulator({"MODEL_PATH": str(folder), "OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}', **LOOPBACK_ANY_PORT,
                         "OVSERVE_SCRIPT_PACKAGES_DIR": str(root / "packages")}, root / "function.log")
    try:
        yield emulator
    finally:
        emulator.stop()


def test_http_invocations_run_the_script(function):
    status, answer = function.invoke(http_v2("POST", "/invocations", body="1,2,3\n4,5,6",
                                             headers={"Content-Type": "text/csv",
                                                      "X-Amzn-SageMaker-Custom-Attributes": "tfs-model-version=1"}))
    assert status == 200 and answer["statusCode"] == 200, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    body = json.loads(answer["body"])
    assert body["predictions"] == [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]] and body["model_version"] == "1"
    assert body["rest_uri"].startswith("http://127.0.0.1:") and body["rest_uri"].endswith("/v1/models/model/versions/1:predict")


def test_the_script_calls_the_grpc_port_when_the_image_has_grpcio(function):
    _, answer = function.invoke(http_v2("POST", "/invocations", body="1,1,1",
                                        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "grpc"}))
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"predictions": [[3.0, 3.0, 3.0]]}


def test_a_scripts_own_status_is_the_http_answer(function):
    _, answer = function.invoke(http_v2("POST", "/invocations", body="1,2", headers={"Content-Type": "text/csv"}))
    assert answer["statusCode"] == 400 and "Obtained shape [1, 2], required shape [-1, 3]" in json.loads(answer["body"])["error"]


def test_other_paths_are_still_ovserves_own(function):
    _, answer = function.invoke(http_v2("POST", "/v1/models/model:predict", body=json.dumps({"instances": [[0, 0, 0]]})))
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"predictions": [[2.0, 2.0, 2.0]]}


def test_direct_invocations_run_the_script_with_model_fields_as_custom_attributes(function):
    status, answer = function.invoke({"instances": [[1, 2, 3]], "model_name": "model", "model_version": 1})
    assert status == 200 and answer["predictions"] == [[2.0, 3.0, 4.0]], answer
    assert answer["model_version"] == "1" and answer["rest_uri"].endswith("/v1/models/model/versions/1:predict")
    _, failed = function.invoke({"instances": [[1, 2]]})
    assert failed["errorType"] == "InvalidInput" and "Obtained shape [1, 2]" in failed["errorMessage"], failed


def test_a_broken_script_fails_the_init_phase(tmp_path):
    archive = tarball(tmp_path / "model.tar.gz", versions={1: models.add_one(shape=(-1, 3))},
                      code={"inference.py": "import json\n\nTABLE = json.loads('{')\n"})
    folder = extracted(archive, tmp_path / "opt-ml-model")
    emulator = Emulator({"MODEL_PATH": str(folder), **LOOPBACK_ANY_PORT}, tmp_path / "function.log")
    try:
        _, answer = emulator.invoke({"instances": [[1, 2, 3]]})
        log = emulator.read_log(tail=None)
    finally:
        emulator.stop()
    assert answer["errorType"] == "ScriptError", answer
    assert "code/inference.py: importing it raised JSONDecodeError" in answer["errorMessage"]
    assert "SCRIPTS = lambda_scripts.start(RUNTIME)" in "".join(answer["stackTrace"])  # raised while importing: init
    assert "TABLE = json.loads('{')" in log  # the script's traceback is in the function's log
