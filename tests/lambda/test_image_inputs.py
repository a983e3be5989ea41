"""Images on Lambda through the real emulator: HTTP events with base64 image bodies, and S3 image objects (moto).

Answers equal in-process OpenVINO on the decoded, resized array (tests/pictures.py); a broken file in an S3 batch
fails only itself, named in ``BatchFailed``, after the other images have their answers.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from tests import models, pictures
from tests.lambda_events import http_v2, rest_v1, s3_put

CASES = pictures.cases(seed=3)
EVENTS = {
    "rest-v1": lambda path, **kw: rest_v1("POST", path, **kw),
    "http-api-v2": lambda path, **kw: http_v2("POST", path, **kw),
    "function-url": lambda path, **kw: http_v2("POST", path, function_url=True, **kw),
}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lambda-images") / "opt-ml-model"
    models.write_version(folder, 1, pictures.nhwc_scale())
    return folder


@pytest.fixture(scope="module")
def function(model_folder, s3):
    from tests.lambdaproc import Emulator

    emulator = Emulator({"MODEL_PATH": str(model_folder), **s3.env("s3-secret")}, model_folder.parent / "function.log")
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.mark.parametrize("kind", EVENTS)
@pytest.mark.parametrize("case", CASES)
def test_a_base64_image_body_is_decoded_for_the_models_input(function, kind, case):
    data, want, tolerance = CASES[case]
    content_type = "image/png" if case.startswith("png") else "image/jpeg"
    event = EVENTS[kind]("/invocations", body=data, binary=True, headers={"Content-Type": content_type})
    status, answer = function.invoke(event)
    assert status == 200 and answer["statusCode"] == 200, answer
    got = np.asarray(json.loads(answer["body"])["predictions"], dtype=np.float32)
    assert got.shape == want.shape and np.allclose(got, want, atol=tolerance)


def test_an_image_answered_as_npy_goes_back_base64(function):
    data, want, _ = CASES["png"]
    event = http_v2("POST", "/invocations", body=data, binary=True,
                    headers={"Content-Type": "application/x-image", "Accept": "application/x-npy"})
    _, answer = function.invoke(event)
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is True, answer
    assert np.allclose(np.load(io.BytesIO(base64.b64decode(answer["body"]))), want)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"plain text", "the image/jpeg body: the data is not a JPEG or PNG image (it starts with 'plai')"),
        (pictures.gif(pictures.pattern()), "GIF images are not supported"),
        (pictures.jpeg(pictures.pattern(64))[:-400], "JPEG image is truncated"),
    ],
)
def test_a_bad_image_body_is_a_400_naming_the_problem(function, body, fragment):
    event = rest_v1("POST", "/invocations", body=body, binary=True, headers={"Content-Type": "image/jpeg"})
    _, answer = function.invoke(event)
    assert answer["statusCode"] == 400 and fragment in json.loads(answer["body"])["error"], answer


def test_s3_images_get_one_answer_each_and_a_broken_one_fails_the_event_by_name(function, s3):
    s3.create_bucket("photos")
    client = s3.client()
    keys = {"in/cat.jpg": "jpeg", "in/dog.PNG": "png", "in/big bird.png": "png-resized"}
    for key, case in keys.items():
        client.put_object(Bucket="photos", Key=key, Body=CASES[case][0])
    client.put_object(Bucket="photos", Key="in/broken.jpeg", Body=pictures.jpeg(pictures.pattern(64))[:-400])
    _, answer = function.invoke(s3_put("photos", *keys, "in/broken.jpeg"))
    assert answer["errorType"] == "BatchFailed", answer
    message = answer["errorMessage"]
    assert "1 of 4 objects failed" in message and "s3://photos/in/broken.jpeg: InvalidInput:" in message, message
    assert "JPEG image is truncated" in message
    for key, case in keys.items():
        out = client.get_object(Bucket="photos", Key=f"ovserve-output/{key}.out")
        assert out["ContentType"] == "application/json"
        _, want, tolerance = CASES[case]
        got = np.asarray(json.loads(out["Body"].read())["predictions"], dtype=np.float32)
        assert np.allclose(got, want, atol=tolerance), key
    listed = client.list_objects_v2(Bucket="photos", Prefix="ovserve-output/").get("Contents", [])
    assert sorted(item["Key"] for item in listed) == sorted(f"ovserve-output/{key}.out" for key in keys)


def test_an_s3_object_that_is_not_an_image_fails_before_the_model(function, s3):
    s3.create_bucket("notes")
    s3.client().put_object(Bucket="notes", Key="scan.png", Body=b"%PDF-1.7 not a png")
    _, answer = function.invoke(s3_put("notes", "scan.png"))
    assert answer["errorType"] == "BatchFailed", answer
    assert "s3://notes/scan.png: InvalidInput: the image/png body: the data is not a JPEG or PNG image" in answer["errorMessage"]
