"""KServe v2 bodies on /invocations, in process: telling v2 JSON from TF Serving JSON, SageMaker's Triton binary type,
the answer's type, and which model a v2 body may name. Real OpenVINO models (tests/models.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ovserve.handler.codecs import media_types, registry, sagemaker_v2
from ovserve.handler.errors import InvalidInput
from ovserve.handler.protocols import invocations
from tests import models
from tests.engines import engine_for, run

X = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
BINARY = media_types.V2_BINARY


def v2_json(x: np.ndarray = X, **extra) -> bytes:
    return json.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
                       **extra}).encode()


def v2_binary(x: np.ndarray = X, outputs: list | None = None, **extra) -> tuple[bytes, int]:
    header = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                          "parameters": {"binary_data_size": x.nbytes}}], **extra}
    if outputs is not None:
        header["outputs"] = outputs
    text = json.dumps(header).encode()
    return text + x.astype("<f4").tobytes(), len(text)


def framed(body: bytes, content_type: str) -> tuple[dict, bytes]:
    size = int(content_type.split("json-header-size=")[1])
    return json.loads(body[:size]), body[size:]


@pytest.mark.parametrize(
    ("body", "v2"),
    [
        (v2_json(), True),
        (json.dumps({"inputs": {"x": X.tolist()}}).encode(), False),
        (json.dumps({"inputs": X.tolist()}).encode(), False),
        (json.dumps(X.tolist()).encode(), False),
        (json.dumps({"instances": [{"name": "a"}]}).encode(), False),  # an input called "name"
        (json.dumps({"inputs": [["name", "x"]]}).encode(), False),  # a string tensor holding "name"
        (json.dumps({"inputs": [{"b64": "AAAA"}]}).encode(), False),  # TF Serving's bytes form
    ],
)
def test_a_v2_json_body_is_told_apart_from_tf_serving_bodies_by_its_structure(body, v2):
    decoded = registry.decode(media_types.JSON, body)
    assert (decoded.form == registry.V2) is v2


def test_tf_serving_b64_lists_are_not_v2_tensors():
    assert not sagemaker_v2._is_tensor_list({"inputs": [{"b64": "AAAA"}, {"b64": "bmFtZQ=="}]})
    assert sagemaker_v2._is_tensor_list({"inputs": [{"name": "x"}]})


def test_a_v2_shaped_json_body_that_is_wrong_gets_the_v2_message():
    body = json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "data": [1]}]}).encode()
    with pytest.raises(InvalidInput) as caught:
        registry.decode(media_types.JSON, body)
    assert "input 'x': datatype None is not supported" in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "size"),
    [
        (f"{BINARY};json-header-size=17", 17),
        (f"{BINARY}; json-header-size=17", 17),
        (f"{BINARY};JSON-Header-Size=\"17\"", 17),
        (BINARY, None),
        (None, None),
    ],
)
def test_the_header_size_parameter(content_type, size):
    assert sagemaker_v2.header_size(content_type) == size
    assert media_types.request_type(content_type or "application/json") in (BINARY, media_types.JSON)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("abc", "json-header-size must be a non-negative integer, got 'abc'"),
        ("0", "json-header-size is 0"),
        ("99999", "json-header-size is 99999, but the body has only"),
        ("10", "not valid JSON"),
    ],
)
def test_bad_header_sizes_are_400s_naming_the_parameter(size, message):
    body, _ = v2_binary()
    with pytest.raises(InvalidInput) as caught:
        registry.decode(BINARY, body, content_type=f"{BINARY};json-header-size={size}")
    assert message in caught.value.message


def test_binary_data_that_does_not_add_up_names_the_parameter():
    body, size = v2_binary()
    with pytest.raises(InvalidInput) as caught:
        registry.decode(BINARY, body + b"\0\0\0\0", content_type=f"{BINARY};json-header-size={size}")
    assert "check the Content-Type's json-header-size" in caught.value.message


def invoke(engine, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None,
           model: str | None = None):
    return invocations.invoke(engine, body, content_type, accept, attributes, invocations.Defaults(), model)


def test_v2_bodies_get_v2_answers_in_the_type_the_request_implies(tmp_path):
    engine = engine_for(tmp_path, model=models.add_one(shape=(-1, 4)))
    binary_body, size = v2_binary(outputs=[{"name": "y", "parameters": {"binary_data": True}}], id="r1")

    async def scenario():
        return (await invoke(engine, v2_json(id="j1"), "application/json"),
                await invoke(engine, binary_body, f"{BINARY};json-header-size={size}"),
                await invoke(engine, binary_body, f"{BINARY};json-header-size={size}", accept="application/json"),
                await invoke(engine, binary_body, f"{BINARY};json-header-size={size}", accept="application/x-npy"),
                await invoke(engine, v2_json(), "application/json", accept=BINARY),
                await invoke(engine, json.dumps({"instances": X.tolist()}).encode(), "application/json", accept=BINARY))

    as_json, as_binary, binary_as_json, binary_as_npy, json_as_binary, tfs_as_binary = run(engine, scenario)
    assert as_json.content_type == "application/json"
    assert json.loads(as_json.body) == {"model_name": "model", "model_version": "1", "id": "j1", "outputs": [
        {"name": "y", "datatype": "FP32", "shape": [2, 4], "data": (X + 1).ravel().tolist()}]}
    header, raw = framed(as_binary.body, as_binary.content_type)
    assert as_binary.content_type.startswith(f"{BINARY};json-header-size=")
    assert header["id"] == "r1" and header["outputs"][0]["parameters"] == {"binary_data_size": X.nbytes}
    assert np.array_equal(np.frombuffer(raw, "<f4").reshape(X.shape), X + 1)
    assert binary_as_json.content_type == "application/json"
    assert json.loads(binary_as_json.body)["outputs"][0]["data"] == (X + 1).ravel().tolist()
    assert binary_as_npy.content_type == media_types.NPY
    assert json_as_binary.content_type.startswith(f"{BINARY};json-header-size=")
    for answer in (json_as_binary, tfs_as_binary):
        header, raw = framed(answer.body, answer.content_type)
        assert np.array_equal(np.frombuffer(raw, "<f4").reshape(X.shape), X + 1), header


def test_a_v2_body_may_name_only_a_served_model(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one(shape=(-1, 4)), b=models.add_one(shape=(-1, 4), value=5.0))

    async def scenario():
        chosen = await invoke(engine, v2_json(model_name="b"), "application/json")
        overridden = await invoke(engine, v2_json(model_name="b"), "application/json", attributes="tfs-model-name=a")
        with pytest.raises(InvalidInput) as unserved:
            await invoke(engine, v2_json(model_name="c"), "application/json")
        with pytest.raises(InvalidInput) as mismatched:
            await invoke(engine, v2_json(model_name="b"), "application/json", model="a")
        return chosen, overridden, unserved.value.message, mismatched.value.message

    chosen, overridden, unserved, mismatched = run(engine, scenario)
    assert json.loads(chosen.body)["outputs"][0]["data"][0] == 6.0 and json.loads(chosen.body)["model_name"] == "b"
    assert json.loads(overridden.body)["outputs"][0]["data"][0] == 2.0
    assert "the infer request names model 'c'" in unserved and '"model_name" to be one of' in unserved
    assert "['a', 'b']" in unserved and "names model 'b'" in mismatched and "['a']" in mismatched
