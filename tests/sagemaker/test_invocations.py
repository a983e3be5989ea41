"""``/invocations`` on a real ``serve`` process: every content type both ways, custom attributes, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.sagemaker.bodies import TYPES, answer, deep_json, forged_npy, npz_named, only_output, request_body

X = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [-1, 0.5, 0.25, 9]], dtype=np.float32)
A = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
B = np.array([[10, 20, 30], [0.5, 0.5, 0.5]], dtype=np.float32)


def model_dir(root: Path) -> Path:
    """/opt/ml/model with an OVMS config.json: "vector" (v1 adds 1, v2 adds 2) and "pair" (sum and product)."""
    folder = root / "opt-ml-model"
    models.write_version(folder / "vector", 1, models.add_one(shape=(-1, 4), value=1.0))
    models.write_version(folder / "vector", 2, models.add_one(shape=(-1, 4), value=2.0))
    models.write_version(folder / "pair", 1, models.two_in_two_out())
    entries = [
        {"config": {"name": "vector", "base_path": "vector", "plugin_config": models.F32,
                    "model_version_policy": {"all": {}}}},
        {"config": {"name": "pair", "base_path": "pair", "plugin_config": models.F32}},
    ]
    (folder / "config.json").write_text(json.dumps({"model_config_list": entries}))
    return folder


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    from tests.sagemakerproc import SageMakerServer

    root = tmp_path_factory.mktemp("sagemaker")
    server = SageMakerServer({"OVSERVE_MODEL_PATH": str(model_dir(root))}, root / "serve.log")
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def post(endpoint, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None, path="/invocations"):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    return endpoint.client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("accept", TYPES)
@pytest.mark.parametrize("content_type", TYPES)
def test_every_request_type_pairs_with_every_answer_type(endpoint, content_type, accept):
    reply = post(endpoint, request_body(content_type, {"x": X}, model="vector"), content_type, accept)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == accept
    got = only_output(answer(accept, reply.content))
    assert np.allclose(got.reshape(X.shape), X + 2), (content_type, accept)  # the default model's latest version


@pytest.mark.parametrize("content_type", ["application/json", "application/jsonlines", "application/x-npz", "application/msgpack",
                                          "application/x-protobuf"])
@pytest.mark.parametrize("accept", ["application/json", "application/x-npz", "application/msgpack", "application/x-protobuf",
                                    "application/jsonlines"])
def test_named_inputs_and_outputs_keep_their_names(endpoint, content_type, accept):
    reply = post(endpoint, request_body(content_type, {"a": A, "b": B}, model="pair"), content_type, accept,
                 attributes="tfs-model-name=pair")
    assert reply.status_code == 200, reply.text
    outputs = answer(accept, reply.content)
    assert np.allclose(outputs["sum"], A + B) and np.allclose(outputs["product"], A * B)


def test_csv_answers_put_several_outputs_side_by_side(endpoint):
    reply = post(endpoint, request_body("application/x-npz", {"a": A, "b": B}), "application/x-npz", "text/csv",
                 attributes="tfs-model-name=pair")
    assert reply.status_code == 200, reply.text
    assert np.allclose(np.loadtxt(reply.content.decode().splitlines(), delimiter=","), np.hstack([A + B, A * B]))


def test_a_bare_json_array_and_row_format_bodies(endpoint):
    for body, key in ((json.dumps(X.tolist()), "predictions"), (json.dumps({"instances": X.tolist()}), "predictions")):
        reply = post(endpoint, body.encode(), "application/json")
        assert reply.status_code == 200 and np.allclose(reply.json()[key], X + 2)


def test_custom_attributes_choose_the_model_and_version(endpoint):
    body = request_body("application/x-npy", {"x": X})
    reply = post(endpoint, body, "application/x-npy", attributes="tfs-model-name=vector,tfs-model-version=1, trace=abc")
    assert reply.status_code == 200 and np.allclose(reply.json()["predictions"], X + 1)
    reply = post(endpoint, body, "application/x-npy", attributes="tfs-model-name=nope")
    assert reply.status_code == 404 and "nope" in reply.json()["error"]
    reply = post(endpoint, body, "application/x-npy", attributes="tfs-model-name=vector,tfs-model-version=7")
    assert reply.status_code == 404 and "version 7" in reply.json()["error"]
    reply = post(endpoint, body, "application/x-npy", attributes="tfs-method=classify")
    assert reply.status_code == 400 and "tfs-method=predict" in reply.json()["error"]


def test_protobuf_requests_name_their_model_and_version(endpoint):
    from ovserve.handler.protos import serving_apis_pb2 as apis

    request = apis.PredictRequest()
    request.ParseFromString(request_body("application/x-protobuf", {"x": X}, model="vector"))
    request.model_spec.version.value = 1
    reply = post(endpoint, request.SerializeToString(), "application/x-protobuf", "application/x-protobuf")
    response = apis.PredictResponse()
    response.ParseFromString(reply.content)
    assert response.model_spec.name == "vector" and response.model_spec.version.value == 1


@pytest.mark.parametrize(
    ("content_type", "body", "status", "message"),
    [
        ("image/gif", b"GIF89a", 415, "expected one of application/json"),
        ("application/x-npy", b"not numpy", 400, "numpy.save"),
        ("application/x-npz", b"PK\x03\x04broken", 400, "numpy.savez"),
        ("text/csv", b"1,2,3\n", 400, "takes 4 per record"),
        ("application/jsonlines", b"[1,2,3,4]\n{", 400, "line 2"),
        ("application/msgpack", b"\xc1", 400, "not valid msgpack"),
        ("application/x-protobuf", b"\xff\xff\xff", 400, "PredictRequest"),
        ("application/json", b'{"instances": [[1, 2], [3]]}', 400, "rectangular"),
        ("application/json", deep_json(), 400, "depth limit exceeded"),
        ("application/json", deep_json(size=0), 400, "depth limit exceeded"),
        ("application/x-npy", forged_npy("<f4", (0, 2**62, 2**62)), 400, "dimension 1 is 4611686018427387904"),
        ("application/x-npy", forged_npy("|S0", (10**12,)), 400, "'|S0'"),
        ("application/x-npy", forged_npy("<M8[s]", (1, 4), b"\x00" * 32), 400, "datetime64"),
        ("application/x-npz", npz_named(y=X), 400, "member 'y'"),
        ("text/csv", b"1,2,3,4\n1,nan,3,4\n", 400, "row 2 column 2: 'nan' is not a finite number"),
        ("text/csv", b"1,2,3,1e400\n", 400, "'1e400' is not a finite number"),
    ],
)
def test_bad_bodies_get_4xx_naming_the_problem(endpoint, content_type, body, status, message):
    reply = post(endpoint, body, content_type)
    assert reply.status_code == status and message in reply.json()["error"], reply.text
    assert post(endpoint, request_body("text/csv", {"x": X}), "text/csv").status_code == 200


def test_unacceptable_answers_get_406(endpoint):
    reply = post(endpoint, request_body("text/csv", {"x": X}), "text/csv", accept="image/png")
    assert reply.status_code == 406 and "application/x-npz" in reply.json()["error"]
    reply = post(endpoint, request_body("application/x-npz", {"a": A, "b": B}), "application/x-npz", "application/x-npy",
                 attributes="tfs-model-name=pair")
    assert reply.status_code == 406 and "2 outputs" in reply.json()["error"]


def test_bodies_over_the_payload_limit_get_413(endpoint):
    reply = post(endpoint, b"1," * (3 * 1024 * 1024 + 8), "text/csv")
    assert reply.status_code == 413 and "SAGEMAKER_MAX_PAYLOAD_IN_MB" in reply.json()["error"]
    assert post(endpoint, request_body("text/csv", {"x": X}), "text/csv").status_code == 200


def test_unknown_headers_are_ignored_and_ping_stays_healthy(endpoint):
    headers = {"X-Amzn-SageMaker-Target-Variant": "v1", "X-Amzn-SageMaker-Inference-Id": "abc", "X-Forwarded-For": "1.2.3.4"}
    assert endpoint.client.get("/ping", headers=headers).status_code == 200
    reply = endpoint.client.post("/invocations", content=request_body("text/csv", {"x": X}),
                                 headers={"Content-Type": "text/csv", **headers})
    assert reply.status_code == 200


def test_the_official_tf_serving_client_speaks_x_protobuf(endpoint):
    """tensorflow-serving-api builds the PredictRequest and reads the PredictResponse (in its own interpreter)."""
    import os
    import subprocess

    from tests.clients import tf_python
    from tests.serverproc import REPO

    call = {"url": f"{endpoint.url}/invocations", "model": "pair",
            "inputs": {"a": {"value": A.tolist(), "dtype": "float32"}, "b": {"value": B.tolist(), "dtype": "float32"}}}
    run = subprocess.run(
        [tf_python(), str(REPO / "tests" / "clients" / "tfs_protobuf_post.py")], input=json.dumps(call),
        capture_output=True, text=True, timeout=240, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["status"] == 200 and result["model"] == "pair" and result["version"] == 1
    assert result["outputs"]["sum"]["dtype"] == "float32"
    assert np.allclose(result["outputs"]["sum"]["value"], A + B) and np.allclose(result["outputs"]["product"]["value"], A * B)


V2_BINARY = "application/vnd.sagemaker-triton.binary+json"


def v2_header(inputs: dict[str, np.ndarray], binary: bool, **extra) -> dict:
    listed = []
    for name, array in inputs.items():
        entry = {"name": name, "shape": list(array.shape), "datatype": "FP32"}
        entry.update({"parameters": {"binary_data_size": array.nbytes}} if binary else {"data": array.ravel().tolist()})
        listed.append(entry)
    return {"inputs": listed, **extra}


def v2_binary_body(inputs: dict[str, np.ndarray], **extra) -> tuple[bytes, str]:
    """What AWS's Triton examples send: tritonclient's body, its JSON header's size in the Content-Type."""
    header = json.dumps(v2_header(inputs, binary=True, **extra)).encode()
    return header + b"".join(a.astype("<f4").tobytes() for a in inputs.values()), f"{V2_BINARY};json-header-size={len(header)}"


def v2_outputs(reply) -> dict[str, np.ndarray]:
    """A v2 answer's outputs by name, from JSON data or from the binary part the Content-Type frames."""
    content_type = reply.headers["content-type"]
    size = int(content_type.split("json-header-size=")[1]) if "json-header-size=" in content_type else len(reply.content)
    header, raw, offset, found = json.loads(reply.content[:size]), reply.content[size:], 0, {}
    for output in header["outputs"]:
        assert output["datatype"] == "FP32"
        if "data" in output:
            found[output["name"]] = np.array(output["data"], np.float32).reshape(output["shape"])
        else:
            length = output["parameters"]["binary_data_size"]
            found[output["name"]] = np.frombuffer(raw[offset:offset + length], "<f4").reshape(output["shape"])
            offset += length
    assert offset == len(raw)
    return found


def test_a_v2_json_body_gets_a_v2_json_answer(endpoint):
    body = json.dumps(v2_header({"a": A, "b": B}, binary=False, id="req-7")).encode()
    reply = post(endpoint, body, "application/json", attributes="tfs-model-name=pair")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert document["model_name"] == "pair" and document["model_version"] == "1" and document["id"] == "req-7"
    outputs = v2_outputs(reply)
    assert np.allclose(outputs["sum"], A + B) and np.allclose(outputs["product"], A * B)


def test_a_v2_binary_body_is_answered_in_the_same_type(endpoint):
    body, content_type = v2_binary_body({"x": X}, outputs=[{"name": "y", "parameters": {"binary_data": True}}])
    reply = post(endpoint, body, content_type, attributes="tfs-model-version=1")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(f"{V2_BINARY};json-header-size=")
    assert np.array_equal(v2_outputs(reply)["y"], X + 1)
    # Accept still chooses: plain JSON (v2, every output as data), or any other type.
    reply = post(endpoint, body, content_type, accept="application/json")
    assert reply.headers["content-type"] == "application/json" and np.array_equal(v2_outputs(reply)["y"], X + 2)
    reply = post(endpoint, body, content_type, accept="application/x-npy")
    assert reply.headers["content-type"] == "application/x-npy"
    assert np.array_equal(only_output(answer("application/x-npy", reply.content)), X + 2)


def test_every_body_type_can_ask_for_a_v2_binary_answer(endpoint):
    for content_type in TYPES:
        reply = post(endpoint, request_body(content_type, {"x": X}, model="vector"), content_type, V2_BINARY)
        assert reply.status_code == 200, (content_type, reply.text)
        assert reply.headers["content-type"].startswith(f"{V2_BINARY};json-header-size="), content_type
        assert np.allclose(v2_outputs(reply)["y"].reshape(X.shape), X + 2), content_type


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (json.dumps({"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP32", "data": [1, 2]}]}).encode(),
         "application/json", "holds 12 elements"),
        (json.dumps({"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FLOAT", "data": [0] * 12}]}).encode(),
         "application/json", "datatype 'FLOAT' is not supported"),
        (b'{"inputs": []}' + b"\0" * 8, f"{V2_BINARY};json-header-size=100", "json-header-size is 100, but the body has only 22"),
        (v2_binary_body({"x": X})[0] + b"\0", v2_binary_body({"x": X})[1], "check the Content-Type's json-header-size"),
        (json.dumps(v2_header({"x": X}, binary=False, model_name="nope")).encode(), "application/json",
         "the infer request names model 'nope'"),
    ],
)
def test_bad_v2_bodies_get_400s_naming_the_problem(endpoint, body, content_type, message):
    reply = post(endpoint, body, content_type)
    assert reply.status_code == 400 and message in reply.json()["error"], reply.text
    assert reply.headers["content-type"] == "application/json"


def test_a_v2_body_may_name_its_model_version(endpoint):
    """Digits or an integer; absent, empty or 0 is the default (latest) version; binary bodies too."""
    for version, added in (("1", 1), (1, 1), ("2", 2), (2, 2), (None, 2), ("", 2), (0, 2)):
        extra = {"model_name": "vector"} | ({} if version is None else {"model_version": version})
        reply = post(endpoint, json.dumps(v2_header({"x": X}, binary=False, **extra)).encode(), "application/json")
        assert reply.status_code == 200, (version, reply.text)
        assert reply.json()["model_version"] == str(added) and np.array_equal(v2_outputs(reply)["y"], X + added), version
    body, content_type = v2_binary_body({"x": X}, model_name="vector", model_version="1")
    reply = post(endpoint, body, content_type)
    assert reply.status_code == 200 and reply.json()["model_version"] == "1" and np.array_equal(v2_outputs(reply)["y"], X + 1)


def test_a_v2_model_version_and_the_custom_attribute_must_agree(endpoint):
    body = json.dumps(v2_header({"x": X}, binary=False, model_name="vector", model_version="1")).encode()
    agreed = post(endpoint, body, "application/json", attributes="tfs-model-version=1")
    assert agreed.status_code == 200 and np.array_equal(v2_outputs(agreed)["y"], X + 1)
    chosen = post(endpoint, json.dumps(v2_header({"x": X}, binary=False, model_name="vector")).encode(), "application/json",
                  attributes="tfs-model-version=1")
    assert chosen.status_code == 200 and np.array_equal(v2_outputs(chosen)["y"], X + 1)  # only the attribute: it chooses
    conflict = post(endpoint, body, "application/json", attributes="tfs-model-version=2")
    assert conflict.status_code == 400, conflict.text
    message = conflict.json()["error"]
    assert '"model_version" 1' in message and "tfs-model-version asks for 2" in message


@pytest.mark.parametrize("version", ["7", "abc", "-1", "1.5", "99999999999999999999"])
def test_a_bad_v2_model_version_fails_as_the_tf_serving_custom_attribute_does(endpoint, version):
    body = json.dumps(v2_header({"x": X}, binary=False, model_name="vector", model_version=version)).encode()
    reply = post(endpoint, body, "application/json")
    plain = json.dumps(v2_header({"x": X}, binary=False, model_name="vector")).encode()
    expected = post(endpoint, plain, "application/json", attributes=f"tfs-model-version={version}")
    assert reply.status_code == expected.status_code == 404, (reply.text, expected.text)
    assert reply.json()["error"] == expected.json()["error"]
    assert "version" in reply.json()["error"]


@pytest.mark.parametrize(("version", "shown"), [(1.5, "got 1.5"), (True, "got true"), ([1], "got [1]"), ({"v": 1}, 'got {"v":1}')])
def test_a_v2_model_version_of_another_json_type_is_a_400(endpoint, version, shown):
    body = json.dumps(v2_header({"x": X}, binary=False, model_name="vector", model_version=version)).encode()
    reply = post(endpoint, body, "application/json")
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]
    assert '"model_version" must be a version number' in message and shown in message
