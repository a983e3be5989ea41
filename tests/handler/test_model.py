"""ServedModel: lazy loading, reshape/batch/shape/layout, mapping aliases, values against raw OpenVINO."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from ovserve.handler.errors import InsufficientResources, InvalidInput, ModelLoadError
from ovserve.handler.model import ServedModel
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.values import parse_shape
from tests import models


def make(tmp_path, model, version=1, mapping=None, **settings) -> ServedModel:
    base = tmp_path / "repo"
    folder = models.write_version(base, version, model, mapping)
    config = ModelConfig(name="m", base_path=str(base), plugin_config=dict(models.F32), **settings)
    return ServedModel(config, version, folder)


def run(coro):
    return asyncio.run(coro)


def test_nothing_is_read_until_first_use(tmp_path):
    served = make(tmp_path, models.add_one())
    (served.folder / "model.bin").unlink()  # would break a read; nothing reads yet
    assert not served.is_loaded
    with pytest.raises(ModelLoadError):
        run(served.ensure_loaded())


def test_values_match_raw_openvino(tmp_path):
    served = make(tmp_path, models.two_in_two_out())
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, dtype=np.float32)
    out = run(served.infer({"a": a, "b": b}))
    expected = models.reference(served.folder / "model.xml", {"a": a, "b": b})
    np.testing.assert_array_equal(out["sum"], expected["sum"])
    np.testing.assert_array_equal(out["product"], expected["product"])
    assert list(out) == ["sum", "product"]


def test_output_filter_returns_only_the_named_outputs(tmp_path):
    served = make(tmp_path, models.two_in_two_out())
    ones = np.ones((1, 3), np.float32)
    out = run(served.infer({"a": ones, "b": ones}, output_filter=["product"]))
    assert list(out) == ["product"]
    with pytest.raises(InvalidInput, match="not in signature"):
        run(served.infer({"a": ones, "b": ones}, output_filter=["nope"]))


def test_concurrent_first_requests_share_one_load(tmp_path):
    served = make(tmp_path, models.add_one())

    async def many():
        x = np.zeros((1, 10), np.float32)
        return await asyncio.gather(*(served.infer({"x": x}) for _ in range(8)))

    results = run(many())
    assert all(np.all(r["y"] == 1) for r in results)


def test_batch_size_auto_uses_a_dynamic_dimension(tmp_path):
    served = make(tmp_path, models.add_one(), batch_size="auto")

    async def two_batches():
        small = await served.infer({"x": np.zeros((1, 10), np.float32)})
        big = await served.infer({"x": np.zeros((5, 10), np.float32)})
        return small, big, served.signature

    small, big, signature = run(two_batches())
    assert small["y"].shape == (1, 10) and big["y"].shape == (5, 10)
    assert signature.inputs[0].shape == (-1, 10)


def test_fixed_batch_size_reshapes_and_rejects_other_batches(tmp_path):
    served = make(tmp_path, models.add_one(), batch_size=4)
    out = run(served.infer({"x": np.zeros((4, 10), np.float32)}))
    assert out["y"].shape == (4, 10)
    with pytest.raises(InvalidInput, match="Obtained batch size 2, required batch size 4"):
        run(served.infer({"x": np.zeros((2, 10), np.float32)}))


def test_shape_tuple_and_dict(tmp_path):
    served = make(tmp_path, models.add_one(), shape=parse_shape("shape", "(2,10)"))
    assert run(served.infer({"x": np.zeros((2, 10), np.float32)}))["y"].shape == (2, 10)
    other = make(tmp_path / "b", models.add_one(), shape=parse_shape("shape", '{"x": "(3,-1)"}'))
    assert run(other.infer({"x": np.zeros((3, 7), np.float32)}))["y"].shape == (3, 7)


def test_shape_wins_over_batch_size(tmp_path):
    served = make(tmp_path, models.add_one(), batch_size=8, shape=parse_shape("shape", "(2,10)"))
    assert run(served.infer({"x": np.zeros((2, 10), np.float32)}))["y"].shape == (2, 10)


def test_single_shape_for_a_multi_input_model_is_a_load_error(tmp_path):
    served = make(tmp_path, models.two_in_two_out(), shape=parse_shape("shape", "(1,3)"))
    with pytest.raises(ModelLoadError, match="give a JSON object"):
        run(served.ensure_loaded())


def test_shape_auto_on_a_model_that_cannot_reshape_answers_400_not_a_hang(tmp_path):
    served = make(tmp_path, models.fixed_reshape(), shape=parse_shape("shape", "auto"))
    ok = run(served.infer({"x": np.arange(10, dtype=np.float32).reshape(1, 10)}))
    assert ok["y"].shape == (2, 5)

    async def wrong_shape():
        return await asyncio.wait_for(served.infer({"x": np.zeros((1, 12), np.float32)}), timeout=60)

    with pytest.raises(InvalidInput, match="(?i)reshape"):
        run(wrong_shape())


def test_layout_nhwc_transposes_for_an_nchw_model(tmp_path):
    served = make(tmp_path, models.image_scale(), layout="NHWC")
    nchw = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    out = run(served.infer({"image": nhwc}))
    expected = nchw * np.array([1, 2, 3], np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out["scaled"], expected, rtol=1e-6)
    assert served.signature.inputs[0].shape == (1, 8, 8, 3)


def test_layout_for_an_output_too(tmp_path):
    served = make(tmp_path, models.image_scale(), layout={"image": "NHWC", "scaled": "NHWC"})
    nhwc = np.ones((1, 8, 8, 3), np.float32)
    out = run(served.infer({"image": nhwc}))
    assert out["scaled"].shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(out["scaled"][0, 0, 0], [1, 2, 3])


def test_mapping_config_aliases_replace_original_names(tmp_path):
    mapping = {"inputs": {"a": "left", "b": "right"}, "outputs": {"sum": "total"}}
    served = make(tmp_path, models.two_in_two_out(), mapping=mapping)
    ones = np.ones((1, 3), np.float32)
    out = run(served.infer({"left": ones, "right": ones}))
    assert set(out) == {"total", "product"}
    with pytest.raises(InvalidInput, match="not found in signature"):
        run(served.infer({"a": ones, "b": ones}))


def test_string_inputs(tmp_path):
    served = make(tmp_path, models.strings_echo())
    out = run(served.infer({"text": np.array([b"hello", b"w\xc3\xb6rld"], dtype=object)}))
    assert list(out["text"]) == [b"hello", b"w\xc3\xb6rld"]  # bytes stay bytes (not UTF-8 decoded)


def test_data_dependent_huge_output_is_out_of_memory_not_a_400(tmp_path):
    served = make(tmp_path, models.broadcast_zeros())
    assert run(served.infer({"shape": np.array([2, 3], np.int64)}))["zeros"].shape == (2, 3)
    with pytest.raises(InsufficientResources, match="inference failed for this input: out of memory"):
        run(served.infer({"shape": np.array([1_000_000, 1_000_000], np.int64)}))
    assert run(served.infer({"shape": np.array([2, 3], np.int64)}))["zeros"].shape == (2, 3)


def test_compiled_model_cache_directory_is_filled(tmp_path):
    cache = tmp_path / "cache"
    served = make(tmp_path, models.add_one(), cache_dir=str(cache))
    run(served.ensure_loaded())
    assert any(cache.iterdir())


def test_overload_answers_at_once(tmp_path):
    from ovserve.handler.errors import Overloaded

    served = make(tmp_path, models.add_one(), nireq=1, max_queued_requests=1)

    async def flood():
        await served.ensure_loaded()
        x = np.zeros((1, 10), np.float32)
        return await asyncio.gather(*(served.infer({"x": x}) for _ in range(20)), return_exceptions=True)

    results = run(flood())
    assert any(isinstance(r, Overloaded) for r in results)
    assert any(isinstance(r, dict) for r in results)


def test_onnx_model_from_a_wheel(tmp_path):
    folder = tmp_path / "repo" / "1"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(models.magika_onnx().read_bytes())
    config = ModelConfig(name="magika", base_path=str(folder.parent), plugin_config=dict(models.F32))
    served = ServedModel(config, 1, folder)
    data = np.random.default_rng(1).integers(0, 257, size=(2, 2048), dtype=np.int32)
    out = run(served.infer({"bytes": data}))
    expected = models.reference(models.magika_onnx(), {"bytes": data})
    np.testing.assert_allclose(out["target_label"], expected["target_label"], rtol=1e-5, atol=1e-6)


def test_config_is_immutable():
    config = ModelConfig(name="m", base_path="/x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "other"  # type: ignore[misc]


def test_shape_auto_recompiles_on_demand_when_the_device_refuses_dynamic_shapes(tmp_path):
    served = make(tmp_path, models.psroi_pool(), shape=parse_shape("shape", "auto"))
    rng = np.random.default_rng(3)
    first = rng.random((1, 8, 10, 10), dtype=np.float32)
    second = rng.random((1, 8, 12, 12), dtype=np.float32)

    async def scenario():
        a = await served.infer({"features": first})
        signature_before = served.signature.inputs[0].shape
        b = await served.infer({"features": second})
        return a, b, signature_before, served.signature.inputs[0].shape

    a, b, before, after = run(scenario())
    assert (before, after) == ((1, 8, 10, 10), (1, 8, 12, 12))
    reference_model = models.psroi_pool()
    reference_model.reshape({0: [1, 8, 12, 12]})
    expected = models.reference_model_answer(reference_model, {"features": second})
    np.testing.assert_allclose(b["pooled"], expected["pooled"], rtol=1e-6)
    np.testing.assert_allclose(a["pooled"], models.reference_model_answer(models.psroi_pool(), {"features": first})["pooled"], rtol=1e-6)
    with pytest.raises(InvalidInput, match="cannot be reshaped|Invalid number of shape dimensions"):
        run(served.infer({"features": np.zeros((1, 8, 10), np.float32)}))
