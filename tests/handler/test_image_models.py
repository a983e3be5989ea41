"""The ``image`` setting compiled into real models (preprocess.py), through the engine, without a server.

Values are checked against in-process OpenVINO with the same PrePostProcessor steps written out in the test; the
model cache still serves a model with compiled pre-processing; bad combinations fail the load naming the setting.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from openvino.preprocess import PrePostProcessor, ResizeAlgorithm

from ovserve.handler.engine import Engine, InferRequest
from ovserve.handler.errors import InvalidInput, NotFound
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.image import ImageSpec
from tests import image_files, models
from tests.engines import run


def encoded(*datas: bytes) -> np.ndarray:
    array = np.empty(len(datas), dtype=object)
    array[:] = list(datas)
    return array


def engine(tmp_path, model: ov.Model, **settings) -> Engine:
    models.write_version(tmp_path / "m", 1, model)
    return Engine.from_configs([ModelConfig(name="m", base_path=str(tmp_path / "m"), plugin_config=dict(models.F32), **settings)])


def predict(served: Engine, *datas: bytes) -> dict[str, np.ndarray]:
    async def scenario():
        return (await served.predict(InferRequest("m", None, lambda signature: {"image": encoded(*datas)}))).outputs

    return run(served, scenario)


def nearest_reference(batch: np.ndarray) -> np.ndarray:
    model = models.image_scale(batch=-1)
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_spatial_dynamic_shape()
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32).resize(ResizeAlgorithm.RESIZE_NEAREST).scale(255.0)
    return models.reference_model_answer(ppp.build(), {0: batch})["scaled"]


def test_nearest_resize_and_one_scale_for_every_channel(tmp_path):
    data = image_files.png(image_files.WIDE)
    served = engine(tmp_path, models.image_scale(batch=-1), image=ImageSpec(color="RGB", scale=(255.0,), resize="nearest"))
    expected = nearest_reference(image_files.decoded(data, "RGB")[None])
    np.testing.assert_allclose(predict(served, data)["scaled"], expected, rtol=1e-6)


def test_without_resize_the_python_side_resizes_and_the_input_is_u8_at_the_models_size(tmp_path):
    data = image_files.png(image_files.WIDE)
    served = engine(tmp_path, models.image_scale(batch=-1), image=ImageSpec(mean=(1.0, 2.0, 3.0)))

    async def scenario():
        _, signature = await served.metadata("m", None)
        outputs = (await served.predict(InferRequest("m", None, lambda s: {"image": encoded(data)}))).outputs
        return signature, outputs

    signature, outputs = run(served, scenario)
    (spec,) = signature.inputs
    assert (spec.dtype.ov_name, spec.shape, spec.layout) == ("u8", (-1, 8, 8, 3), "NHWC")
    small = np.empty((8, 8, 3), np.uint8)
    from ovserve.handler.codecs.images import resize_bilinear

    resize_bilinear(image_files.decoded(data), small)  # BGR: the default order
    expected = (small.astype(np.float32) - [1, 2, 3]).transpose(2, 0, 1)[None] * np.array([1, 2, 3], np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(outputs["scaled"], expected, rtol=1e-6)


def test_the_model_cache_serves_a_model_with_compiled_pre_processing(tmp_path):
    data = image_files.jpeg(image_files.WIDE)
    cache = tmp_path / "cache"
    spec = ImageSpec(color="RGB", mean=(10.0,), scale=(2.0,), resize="linear")
    first = predict(engine(tmp_path / "a", models.image_scale(batch=-1), image=spec, cache_dir=str(cache)), data)
    assert any(cache.iterdir())
    second_engine = engine(tmp_path / "b", models.image_scale(batch=-1), image=spec, cache_dir=str(cache))

    async def scenario():
        entry = second_engine.repository.get("m")
        async with entry.use(None) as served:
            loaded = served._loaded.compiled.get_property("LOADED_FROM_CACHE")
        return loaded, (await second_engine.predict(InferRequest("m", None, lambda s: {"image": encoded(data)}))).outputs

    loaded, second = run(second_engine, scenario)
    assert loaded is True
    np.testing.assert_array_equal(first["scaled"], second["scaled"])


@pytest.mark.parametrize(
    ("model", "settings", "fragment"),
    [
        (models.add_one(), {"image": ImageSpec()}, "image: the model has no 4-D input to take images"),
        (models.image_scale(size=-1, batch=-1), {"image": ImageSpec(resize="linear")},
         "image.resize: input 'image' has no fixed height and width"),
        (models.image_scale(), {"image": ImageSpec(), "layout": "NCHW"}, "with the image setting the input takes NHWC images"),
        (models.image_scale(), {"image": ImageSpec(mean=(1.0, 2.0))}, "image.mean: 2 values for input 'image', which has 3 channels"),
    ],
)
def test_an_image_setting_the_model_cannot_take_fails_its_load_naming_it(tmp_path, model, settings, fragment):
    served = engine(tmp_path, model, **settings)

    async def scenario():
        with pytest.raises(NotFound):
            await served.metadata("m", None)
        return served.unavailable_reasons()["m"]

    assert fragment in run(served, scenario)


def test_a_model_that_declares_nchw_is_pointed_to_the_layout_setting(tmp_path):
    x = ops.parameter([1, 3, 8, 8], ov.Type.f32, name="image")
    x.set_layout(ov.Layout("NCHW"))
    model = ov.Model([ops.result(ops.relu(x))], [x], "declared_nchw")
    served = engine(tmp_path, model)

    async def scenario():
        with pytest.raises(InvalidInput) as caught:
            await served.predict(InferRequest("m", None, lambda s: {"image": encoded(image_files.png(image_files.SMALL))}))
        return caught.value.message

    text = run(served, scenario)
    assert "has layout NCHW" in text and "--layout NHWC:NCHW" in text
