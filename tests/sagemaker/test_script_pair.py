"""``input_handler`` + ``output_handler`` from a real model.tar.gz on a real ``serve``: CSV decoded into a TF Serving
body, the prediction in process, the answer reshaped; and a failed prediction keeping its status."""

from __future__ import annotations

import pytest

from tests import models
from tests.sagemaker.script_archives import extracted, started, tarball

SCRIPT = '''
    import json


    def input_handler(data, context):
        if context.request_content_type == "text/csv":
            rows = [[float(v) for v in line.split(",")] for line in data.read().decode().splitlines() if line.strip()]
            return json.dumps({"instances": rows})
        if context.request_content_type == "application/json":
            return data.read()
        raise ValueError(f"unsupported content type {context.request_content_type}")


    def output_handler(response, context):
        if context.accept_header == "application/x-response":  # what a script reads off requests.Response
            return json.dumps({
                "status_code": response.status_code, "ok": response.ok, "reason": response.reason,
                "content_type": response.headers["content-type"], "text": response.text, "json": response.json(),
                "content_is_bytes": isinstance(response.content, bytes), "url": response.url,
            }), "application/json"
        if context.accept_header == "application/json":  # passes whatever came back, failures included
            return response.content, "application/json"
        if response.status_code != 200:
            raise ValueError(response.content.decode())
        predictions = response.json()["predictions"]
        return "\\n".join(",".join(f"{v:g}" for v in row) for row in predictions), "text/csv"
'''


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    archive = tarball(root / "model.tar.gz", versions={1: models.add_one(shape=(-1, 3), value=1.0),
                                                       2: models.add_one(shape=(-1, 3), value=100.0)},
                      code={"inference.py": SCRIPT})
    # A policy serving both versions, so tfs-model-version can pick one.
    server = started(root, extracted(archive, root / "opt-ml-model"), {"OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}'})
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def post(endpoint, body: bytes, content_type: str = "text/csv", accept: str = "text/csv", attributes: str | None = None):
    headers = {"Content-Type": content_type, "Accept": accept}
    if attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    return endpoint.client.post("/invocations", content=body, headers=headers)


def test_csv_in_csv_out_through_the_in_process_predict(endpoint):
    reply = post(endpoint, b"1,2,3\n4,5,6", attributes="tfs-model-version=1")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv"
    assert reply.text == "2,3,4\n5,6,7"


def test_the_custom_attribute_picks_the_version_predicted(endpoint):
    assert post(endpoint, b"1,2,3", attributes="tfs-model-version=2").text == "101,102,103"
    assert post(endpoint, b"1,2,3").text == "101,102,103"  # the default version is the latest


def test_output_handler_gets_what_scripts_read_from_a_requests_response(endpoint):
    reply = post(endpoint, b"1,1,1", accept="application/x-response", attributes="tfs-model-version=1")
    assert reply.status_code == 200, reply.text
    seen = reply.json()
    assert seen["status_code"] == 200 and seen["ok"] is True and seen["reason"] == "OK"
    assert seen["content_type"] == "application/json" and seen["content_is_bytes"] is True
    assert seen["json"] == {"predictions": [[2.0, 2.0, 2.0]]} and seen["text"] == '{"predictions":[[2.0,2.0,2.0]]}'
    assert seen["url"].endswith("/v1/models/model/versions/1:predict")


def test_a_bad_tensor_is_still_400_when_output_handler_raises_on_it(endpoint):
    reply = post(endpoint, b"1,2")
    assert reply.status_code == 400, reply.text
    assert "Obtained shape [1, 2], required shape [-1, 3]" in reply.json()["error"]


def test_a_failed_predict_keeps_its_status_when_output_handler_passes_it_on(endpoint):
    reply = post(endpoint, b'{"instances": [[1, 2, 3]], "extra": 1}', content_type="application/json", accept="application/json")
    assert reply.status_code == 400
    assert "unknown key 'extra'" in reply.json()["error"]


def test_an_unknown_version_is_the_tf_serving_404(endpoint):
    reply = post(endpoint, b"1,2,3", attributes="tfs-model-version=7")
    assert reply.status_code == 404 and "version 7" in reply.json()["error"].lower()


def test_an_exception_in_input_handler_is_a_500_naming_it(endpoint):
    reply = post(endpoint, b"\x00\x01", content_type="application/x-npy")
    assert reply.status_code == 500
    assert reply.json()["error"].endswith(
        "code/inference.py: input_handler raised ValueError: unsupported content type application/x-npy")
