"""Image bodies (``image/jpeg``, ``image/png``, ``application/x-image``) on real ``serve`` processes.

Real-time ``/invocations``, a multi-model endpoint's invoke and batch transform (one image object per request,
in the object's content type) all take one encoded image for the model's single input; the answers equal
in-process OpenVINO on the decoded, resized array (tests/pictures.py), and bad files are 400s naming the problem.
"""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from tests import models, pictures
from tests.sagemaker.bodies import answer

CASES = pictures.cases()
RGB = pictures.pattern()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """"image" (NHWC [1, 8, 8, 3], the default model), "pair" (two inputs) and "four" (4 channels), from config.json."""
    from tests.sagemakerproc import SageMakerServer

    root = tmp_path_factory.mktemp("sagemaker-images")
    folder = root / "opt-ml-model"
    models.write_version(folder / "image", 1, pictures.nhwc_scale())
    models.write_version(folder / "pair", 1, models.two_in_two_out())
    models.write_version(folder / "four", 1, pictures.nhwc_relu(channels=4))
    entries = [{"config": {"name": name, "base_path": name, "plugin_config": models.F32}} for name in ("image", "pair", "four")]
    (folder / "config.json").write_text(json.dumps({"model_config_list": entries}))
    server = SageMakerServer({"OVSERVE_MODEL_PATH": str(folder)}, root / "serve.log")
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def post(server, body: bytes, content_type: str, accept: str | None = None, path: str = "/invocations", **headers):
    sent = {"Content-Type": content_type, **({"Accept": accept} if accept else {}), **headers}
    return server.client.post(path, content=body, headers=sent)


def predictions(reply) -> np.ndarray:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    return np.asarray(reply.json()["predictions"], dtype=np.float32)


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/x-image"])
@pytest.mark.parametrize("case", CASES)
def test_an_image_body_is_decoded_for_the_models_input(endpoint, content_type, case):
    """Any of the three types takes a JPEG or a PNG (the bytes say which); a larger PNG is resized to 8x8."""
    data, want, tolerance = CASES[case]
    got = predictions(post(endpoint, data, content_type))
    assert got.shape == want.shape and np.allclose(got, want, atol=tolerance), (case, np.abs(got - want).max())


@pytest.mark.parametrize("accept", ["application/x-npy", "application/jsonlines", "application/msgpack", "text/csv"])
def test_an_image_is_answered_in_the_type_accept_asks_for(endpoint, accept):
    data, want, _ = CASES["png"]
    reply = post(endpoint, data, "image/png", accept)
    assert reply.status_code == 200 and reply.headers["content-type"] == accept, reply.text
    got = next(iter(answer(accept, reply.content).values()))
    assert np.allclose(np.asarray(got, dtype=np.float32).reshape(want.shape), want)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"hello, not a picture", "image/jpeg", "the image/jpeg body: the data is not a JPEG or PNG image (it starts with 'hell')"),
        (b"", "image/png", "it is empty"),
        (pictures.gif(RGB), "application/x-image", "GIF images are not supported; send JPEG or PNG"),
        (pictures.jpeg(RGB)[:20], "image/jpeg", "JPEG image is truncated before its frame header"),
        (pictures.png(RGB)[:20], "image/png", "PNG image is truncated inside its header"),
        (pictures.jpeg(pictures.pattern(64))[:-400], "image/jpeg", "JPEG image is truncated"),  # the decoder finds it
        (pictures.png(pictures.pattern(64))[:-300], "image/png", "PNG image is truncated"),
        (pictures.bomb_png(), "image/png", "declares 100000x100000 pixels"),  # refused from its header, never decoded
    ],
)
def test_a_bad_image_is_a_400_naming_the_problem(endpoint, body, content_type, fragment):
    reply = post(endpoint, body, content_type)
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()["error"], reply.text
    assert endpoint.client.get("/ping").status_code == 200


def test_an_image_for_a_model_with_several_inputs_is_a_400_naming_them(endpoint):
    reply = post(endpoint, CASES["png"][0], "image/png", **{"X-Amzn-SageMaker-Custom-Attributes": "tfs-model-name=pair"})
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]
    assert "inputs ['a', 'b']" in message and "single input" in message


def test_an_image_for_a_channel_count_no_image_has_is_a_400(endpoint):
    reply = post(endpoint, CASES["png"][0], "image/png", **{"X-Amzn-SageMaker-Custom-Attributes": "tfs-model-name=four"})
    assert reply.status_code == 400, reply.text
    assert "4 channels" in reply.json()["error"], reply.text


def test_an_accept_of_an_image_type_is_a_406(endpoint):
    reply = post(endpoint, CASES["png"][0], "image/png", "image/png")
    assert reply.status_code == 406 and "Accept 'image/png'" in reply.json()["error"]


def test_a_multi_model_endpoint_invokes_a_loaded_model_with_an_image(start_sagemaker, tmp_path):
    server = start_sagemaker({"SAGEMAKER_MULTI_MODEL": "true"})
    folder = tmp_path / "models" / "photos" / "model"
    models.write_version(folder, 1, pictures.nhwc_scale())
    loaded = server.client.post("/models", json={"model_name": "photos", "url": str(folder)})
    assert loaded.status_code == 200, loaded.text
    data, want, tolerance = CASES["jpeg"]
    got = predictions(post(server, data, "image/jpeg", path="/models/photos/invoke",
                           **{"X-Amzn-SageMaker-Target-Model": "photos.tar.gz"}))
    assert np.allclose(got, want, atol=tolerance)
    bad = post(server, b"GIF89a...", "image/jpeg", path="/models/photos/invoke")
    assert bad.status_code == 400 and "GIF images are not supported" in bad.json()["error"]


def test_batch_transform_sends_each_image_object_in_its_own_request(start_sagemaker, tmp_path):
    """SplitType None: each S3 object is one request in the job's ContentType; AssembleWith Line joins the answers."""
    models.write_version(tmp_path / "model", 1, pictures.nhwc_scale())
    server = start_sagemaker({"SAGEMAKER_BATCH": "true", "OVSERVE_MODEL_PATH": str(tmp_path / "model")})
    objects = [CASES["jpeg"], CASES["png"], CASES["png-resized"]]
    lines = []
    for data, _, _ in objects:
        reply = post(server, data, "application/x-image", "application/jsonlines")
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/jsonlines", reply.text
        lines.append(reply.content)
    assembled = b"\n".join(lines).split(b"\n")
    assert len(assembled) == len(objects)  # one line per image object
    for line, (_, want, tolerance) in zip(assembled, objects, strict=True):
        assert np.allclose(np.asarray(orjson.loads(line), dtype=np.float32), want[0], atol=tolerance)
