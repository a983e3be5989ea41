"""OVMS's binary-input rules on input specs (image_inputs), the codecs letting image bytes through, and the settings.

No OpenVINO here: specs are written by hand as the compiled model would report them, images are encoded with
Pillow from known arrays (PNG is lossless, so pixels compare exactly).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ovserve.handler import image_inputs
from ovserve.handler.codecs import images, tensor_proto, tfs_json, v2_proto
from ovserve.handler.errors import ConfigError, InvalidInput
from ovserve.handler.image_inputs import ImageSettings, decode_input, decode_inputs, needs_decoding
from ovserve.handler.protos import grpc_service_pb2, tensor_pb2
from ovserve.handler.settings.config import ModelConfig, model_config_from_mapping
from ovserve.handler.settings.image import ImageSpec, parse_image
from ovserve.handler.settings.server import load_settings
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME

RNG = np.random.default_rng(7)
IMAGE = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)  # 10 wide, 6 high, RGB


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def spec(shape, dtype="f32", layout=None, name="image") -> TensorSpec:
    return TensorSpec(name, 0, BY_OV_NAME[dtype], tuple(shape), layout)


def encoded(*datas: bytes) -> np.ndarray:
    array = np.empty(len(datas), dtype=object)
    array[:] = list(datas)
    return array


def message(call) -> str:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.message


SETTINGS = ImageSettings()


# ---------------------------------------------------------------- which arrays are decoded


def test_only_bytes_for_numeric_inputs_need_decoding():
    signature = Signature((spec((-1, 6, 10, 3)), spec((-1,), "string", name="text")), ())
    assert needs_decoding({"image": encoded(png(IMAGE))}, signature)
    assert not needs_decoding({"text": encoded(b"hello")}, signature)  # a string input keeps its bytes
    assert not needs_decoding({"image": np.zeros((1, 6, 10, 3), np.float32)}, signature)
    kept = decode_inputs({"text": encoded(b"hello"), "image": encoded(png(IMAGE))}, signature, SETTINGS)
    assert kept["text"][0] == b"hello" and kept["image"].shape == (1, 6, 10, 3)


# ---------------------------------------------------------------- the rules


def test_at_its_own_size_an_image_is_bgr_and_cast_without_scaling():
    out = decode_input(spec((-1, 6, 10, 3)), encoded(png(IMAGE), png(IMAGE)), SETTINGS)
    assert out.dtype == np.float32 and out.shape == (2, 6, 10, 3)
    assert np.array_equal(out[1], IMAGE[..., ::-1].astype(np.float32))  # OVMS's BGR, values 0-255


def test_the_model_colour_setting_decodes_rgb():
    out = decode_input(spec((1, 6, 10, 3), "u8"), encoded(png(IMAGE)), ImageSettings(color="RGB"))
    assert out.dtype == np.uint8 and np.array_equal(out[0], IMAGE)


def test_fixed_height_and_width_resize_with_opencvs_bilinear_rule():
    out = decode_input(spec((-1, 3, 5, 3), "u8"), encoded(png(IMAGE)), ImageSettings(color="RGB"))
    expected = np.empty((3, 5, 3), np.uint8)
    images.resize_bilinear(IMAGE, expected)
    assert np.array_equal(out[0], expected)


def test_dynamic_size_passes_images_at_their_size_and_refuses_mixed_sizes():
    dynamic = spec((-1, -1, -1, 3))
    assert decode_input(dynamic, encoded(png(IMAGE)), SETTINGS).shape == (1, 6, 10, 3)
    text = message(lambda: decode_input(dynamic, encoded(png(IMAGE), png(IMAGE[:4, :4])), SETTINGS))
    assert "image 2 of 2 is 4x4 but image 1 is 10x6" in text and "one size" in text


def test_a_fixed_dimension_beside_a_dynamic_one_must_match():
    text = message(lambda: decode_input(spec((-1, 8, -1, 3)), encoded(png(IMAGE)), SETTINGS))
    assert "the images are 10x6, but this input takes a height of 8" in text


def test_range_dimensions_clamp_to_the_nearer_bound():
    out = decode_input(spec((1, (8, 20), (2, 9), 3), "u8"), encoded(png(IMAGE)), ImageSettings(color="RGB"))
    assert out.shape == (1, 8, 9, 3)  # 6 -> 8 (low bound), 10 -> 9 (high bound)


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [((-1, 6, 10, 4), "takes 4 channels"), ((-1, 6, 10, 2), "takes 2 channels"),
     ((2, 6, 10, 3), "Obtained 1 images, required batch size 2")],
)
def test_inputs_that_cannot_take_these_images(shape, fragment):
    assert fragment in message(lambda: decode_input(spec(shape), encoded(png(IMAGE)), SETTINGS))


def test_a_declared_nchw_layout_points_to_the_layout_remedy():
    text = message(lambda: decode_input(spec((1, 3, 6, 10), layout="NCHW"), encoded(png(IMAGE)), SETTINGS))
    assert "has layout NCHW" in text and "--layout NHWC:NCHW" in text
    assert decode_input(spec((1, 6, 10, 3), layout="N..."), encoded(png(IMAGE)), SETTINGS).shape == (1, 6, 10, 3)


def test_channels_minus_one_take_the_first_images_count():
    grey = IMAGE[..., 0]
    assert decode_input(spec((-1, 6, 10, -1)), encoded(png(grey)), SETTINGS).shape == (1, 6, 10, 1)
    assert decode_input(spec((-1, 6, 10, -1)), encoded(png(IMAGE)), SETTINGS).shape == (1, 6, 10, 3)


def test_row_form_n_by_1_and_a_single_value_are_batches():
    assert decode_input(spec((-1, 6, 10, 3)), encoded(png(IMAGE), png(IMAGE)).reshape(2, 1), SETTINGS).shape[0] == 2
    single = np.empty((), dtype=object)
    single[()] = png(IMAGE)
    assert decode_input(spec((-1, 6, 10, 3)), single, SETTINGS).shape[0] == 1
    assert "one per batch row" in message(lambda: decode_input(spec((-1, 6, 10, 3)), encoded(png(IMAGE)).reshape(1, 1, 1), SETTINGS))


def test_int8_saturates_as_opencvs_convert_to_does():
    out = decode_input(spec((1, 6, 10, 3), "i8"), encoded(png(IMAGE)), SETTINGS)
    assert out.dtype == np.int8 and out.max() == min(127, int(IMAGE.max())) and out.min() >= 0


def test_a_decompression_bomb_header_is_refused_before_decoding():
    settings = ImageSettings(max_pixels=50)
    assert "more than the limit of 50" in message(lambda: decode_input(spec((1, -1, -1, 3)), encoded(png(IMAGE)), settings))


def test_the_decoded_batch_counts_against_the_request_budget():
    settings = ImageSettings(max_bytes=1000)
    text = message(lambda: decode_input(spec((-1, 6, 10, 3)), encoded(png(IMAGE), png(IMAGE)), settings))
    assert "2 images of 10x6 decode to 1440 bytes of f32" in text


def test_bytes_that_are_not_images_name_the_problem():
    assert "not a JPEG or PNG image" in message(lambda: decode_input(spec((1, 6, 10, 3)), encoded(b"hello"), SETTINGS))
    assert "truncated" in message(lambda: decode_input(spec((1, 6, 10, 3)), encoded(png(IMAGE)[:60]), SETTINGS))


# ---------------------------------------------------------------- the codecs let image bytes through, and only them


def test_tf_serving_json_b64_for_a_4d_input_arrives_as_bytes_and_elsewhere_is_refused_as_before():
    data = png(IMAGE)
    array = tfs_json.to_array(spec((-1, 6, 10, 3)), [{"b64": base64.b64encode(data).decode()}])
    assert array.dtype == object and array.tolist() == [data]
    text = message(lambda: tfs_json.to_array(spec((-1, 10)), [{"b64": base64.b64encode(data).decode()}]))
    assert '"b64" values are only accepted for string inputs' in text


def test_tensor_proto_strings_for_a_4d_input_skip_the_shape_check():
    proto = tensor_pb2.TensorProto(dtype=7, string_val=[png(IMAGE), png(IMAGE)])
    proto.tensor_shape.dim.add(size=2)
    array = tensor_proto.to_array("image", proto, spec=spec((-1, 6, 10, 3)))
    assert array.shape == (2,) and array[0] == png(IMAGE)
    assert "strings are not converted" in message(lambda: tensor_proto.to_array("x", proto, spec=spec((-1, 10), name="x")))


def test_v2_proto_bytes_for_a_4d_input_skip_the_shape_check():
    request = grpc_service_pb2.ModelInferRequest(model_name="m")
    tensor = request.inputs.add(name="image", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(png(IMAGE))
    arrays = v2_proto.request_arrays(request, Signature((spec((-1, 6, 10, 3)),), ()))
    assert arrays["image"].tolist() == [png(IMAGE)]
    flat = Signature((spec((-1, 10)),), ())
    assert "strings are not converted" in message(lambda: v2_proto.request_arrays(request, flat))


# ---------------------------------------------------------------- settings


def test_the_image_setting_parses_and_names_each_bad_field():
    parsed = parse_image("image", '{"color": "rgb", "mean": [1, 2, 3], "scale": [2], "resize": "Linear"}')
    assert parsed == ImageSpec(color="RGB", mean=(1.0, 2.0, 3.0), scale=(2.0,), resize="linear")
    for raw, fragment in [
        ({"color": "RGBA"}, "image.color: expected BGR or RGB"),
        ({"mean": [1, 2]}, "image.mean: expected a list of 1 or 3 numbers"),
        ({"scale": [1, 0, 1]}, "none of them 0"),
        ({"resize": "bilinear"}, "image.resize: expected linear or nearest or cubic"),
        ({"size": 3}, "image.size: expected no such field"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            parse_image("image", raw)


def test_image_settings_reach_the_model_config_from_config_json_flags_and_environment(tmp_path):
    config = model_config_from_mapping("c.", {"name": "m", "base_path": "/m", "image": {"color": "RGB"}}, {})
    assert config.image == ImageSpec(color="RGB") and ImageSettings.of(config).color == "RGB"
    settings = load_settings(["--model_name", "m", "--model_path", str(tmp_path), "--image", '{"resize": "cubic"}'],
                             {"OVSERVE_MAX_IMAGE_PIXELS": "1000"})
    (model,) = settings.models
    assert model.image == ImageSpec(resize="cubic") and model.max_image_pixels == 1000
    assert ImageSettings.of(ModelConfig(name="m", base_path="/m")) == ImageSettings()
    with pytest.raises(ConfigError, match="--max_image_pixels: expected an integer from 1"):
        load_settings(["--model_name", "m", "--model_path", str(tmp_path), "--max_image_pixels", "0"], {})
    with pytest.raises(ConfigError, match="--image.color: expected BGR or RGB"):
        load_settings(["--model_name", "m", "--model_path", str(tmp_path), "--image", '{"color": "x"}'], {})


def test_the_image_workers_are_two_daemon_threads():
    assert image_inputs.WORKERS == 2 and image_inputs._pool.workers == 2
