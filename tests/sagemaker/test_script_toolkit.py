"""SageMaker inference toolkit scripts (``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``, ``transform_fn``) from
real model.tar.gz archives on real ``serve`` processes, with ovserve's model as the default ``predict_fn``."""

from __future__ import annotations

import time

import httpx
import pytest

from tests import models
from tests.sagemaker.script_archives import extracted, log_lines, started, tarball

HOOKS = '''
    import json

    import numpy as np


    def _scale(context):
        header = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes") or ""
        for part in header.split(","):
            key, _, value = part.partition("=")
            if key.strip() == "scale":
                return float(value)
        return 1.0


    def input_fn(input_data, content_type, context):
        if content_type == "text/csv":
            assert isinstance(input_data, str), "the toolkit hands CSV over as text"
            return np.array([[float(v) for v in line.split(",")] for line in input_data.splitlines()]) * _scale(context)
        return input_data  # JSON text: ovserve's default predict_fn reads TF Serving JSON


    def output_fn(prediction, accept, context):
        if accept == "text/x-fail":
            raise RuntimeError("cannot write text/x-fail")
        return json.dumps({"y": prediction["y"].tolist(), "accept": accept, "model": context.model_name,
                           "prediction_type": type(prediction).__name__}), "application/json"
'''

TRANSFORM = '''
    import json
    import os
    import pathlib
    import time


    def model_fn(model_dir):
        gate = pathlib.Path(os.environ["TEST_MODEL_FN_GATE"])
        while not gate.exists():  # a slow model_fn: /ping must say so meanwhile
            time.sleep(0.05)
        return {"labels": (pathlib.Path(model_dir) / "code" / "labels.txt").read_text().split()}


    def transform_fn(model, data, content_type, accept):
        shown = data if isinstance(data, str) else data.hex()
        return json.dumps({"labels": model["labels"], "data": shown, "content_type": content_type, "accept": accept}), accept
'''


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    """input_fn + output_fn under SAGEMAKER_PROGRAM=serve_model.py; the default predict_fn runs ovserve's model."""
    root = tmp_path_factory.mktemp("toolkit")
    archive = tarball(root / "model.tar.gz", versions={1: models.add_one(shape=(-1, 3), value=1.0)},
                      code={"serve_model.py": HOOKS})
    server = started(root, extracted(archive, root / "opt-ml-model"),
                     {"SAGEMAKER_PROGRAM": "serve_model.py", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/jsonlines"})
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def post(server, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    return server.client.post("/invocations", content=body, headers=headers)


def test_input_fn_and_output_fn_around_ovserves_model(hooks):
    reply = post(hooks, b"1,2,3\n4,5,6", "text/csv", accept="application/json")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"y": [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]], "accept": "application/json", "model": "model",
                            "prediction_type": "Outputs"}


def test_every_request_gets_its_own_context(hooks):
    doubled = post(hooks, b"1,2,3", "text/csv", attributes="scale=2")
    tenfold = post(hooks, b"1,2,3", "text/csv", attributes="scale=10")
    assert doubled.json()["y"] == [[3.0, 5.0, 7.0]] and tenfold.json()["y"] == [[11.0, 21.0, 31.0]]


def test_a_missing_or_any_accept_is_the_endpoints_default(hooks):
    request = hooks.client.build_request("POST", "/invocations", content=b"1,2,3", headers={"Content-Type": "text/csv"})
    del request.headers["accept"]  # httpx sends */* unless told otherwise
    assert hooks.client.send(request).json()["accept"] == "application/jsonlines"
    assert post(hooks, b"1,2,3", "text/csv", accept="*/*").json()["accept"] == "application/jsonlines"


def test_the_default_predict_fn_reads_tf_serving_json(hooks):
    reply = post(hooks, b'{"instances": [[0.5, 0.5, 0.5]]}', "application/json")
    assert reply.status_code == 200, reply.text
    assert reply.json()["y"] == [[1.5, 1.5, 1.5]]


def test_a_bad_tensor_through_the_default_predict_fn_is_400(hooks):
    reply = post(hooks, b"1,2", "text/csv")
    assert reply.status_code == 400 and "Obtained shape [1, 2], required shape [-1, 3]" in reply.json()["error"]


def test_an_exception_in_output_fn_is_a_500_naming_it(hooks):
    reply = post(hooks, b"1,2,3", "text/csv", accept="text/x-fail")
    assert reply.status_code == 500
    assert reply.json()["error"].endswith("code/serve_model.py: output_fn raised RuntimeError: cannot write text/x-fail")


def test_model_fn_and_transform_fn_with_ping_waiting_for_model_fn(tmp_path):
    archive = tarball(tmp_path / "model.tar.gz", versions={1: models.add_one(shape=(-1, 3))},
                      code={"inference.py": TRANSFORM, "labels.txt": "cat dog\n"})
    gate = tmp_path / "gate"
    server = started(tmp_path, extracted(archive, tmp_path / "opt-ml-model"), {"TEST_MODEL_FN_GATE": str(gate)})
    try:
        server.wait_listening()
        deadline = time.monotonic() + 60
        ping = server.client.get("/ping")
        while ping.status_code != 503 or "model_fn" not in ping.text:  # first 503s may still say "preparing"
            assert time.monotonic() < deadline and ping.status_code == 503, ping.text
            time.sleep(0.05)
            ping = server.client.get("/ping")
        assert "running model_fn of" in ping.json()["error"] and "inference.py" in ping.json()["error"]
        waiting = server.client.post("/invocations", content=b"{}", headers={"Content-Type": "application/json"})
        assert waiting.status_code == 503 and "model_fn" in waiting.json()["error"]
        gate.touch()
        server.wait_ready()
        reply = post(server, b'{"a": 1}', "application/json", accept="application/json")
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"labels": ["cat", "dog"], "data": '{"a": 1}', "content_type": "application/json",
                                "accept": "application/json"}
        binary = post(server, b"\x93NUMPY", "application/x-npy")
        assert binary.json()["data"] == "934e554d5059" and binary.json()["accept"] == "application/json"
        assert binary.headers["content-type"] == "application/json"
    except httpx.TransportError:
        raise AssertionError(server.read_log()) from None
    finally:
        server.stop()
    assert [line["msg"] for line in log_lines(server)].count("model_fn done") == 1
