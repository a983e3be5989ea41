"""Records through real models of fixed, ranged and open batch sizes: one answer per record, in order."""

from __future__ import annotations

import asyncio

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from ovserve.handler import records as splitter
from ovserve.handler.engine import Engine, InferRequest
from ovserve.handler.errors import InvalidInput
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.values import parse_shape
from tests import models


def engine_for(tmp_path, model: ov.Model, **settings) -> Engine:
    models.write_version(tmp_path / "m", 1, model)
    return Engine.from_configs([ModelConfig(name="m", base_path=str(tmp_path / "m"), plugin_config=dict(models.F32), **settings)])


def run_records(engine: Engine, arrays: dict) -> dict:
    async def go():
        await engine.start()
        try:
            prediction = await engine.predict(InferRequest("m", None, lambda signature: arrays, records=True))
            return prediction.outputs
        finally:
            await engine.stop()

    return asyncio.run(go())


def records(count: int) -> np.ndarray:
    return np.arange(count * 3, dtype=np.float32).reshape(count, 3)


@pytest.mark.parametrize("count", [1, 4, 10, 13])
def test_fixed_batch_of_four_answers_every_record_in_order(tmp_path, count):
    outputs = run_records(engine_for(tmp_path, models.add_one(shape=(4, 3))), {"x": records(count)})
    assert outputs["y"].shape == (count, 3)
    assert np.array_equal(outputs["y"], records(count) + 1)


def test_batch_size_one_model_runs_records_one_by_one(tmp_path):
    outputs = run_records(engine_for(tmp_path, models.add_one(shape=(1, 3))), {"x": records(7)})
    assert np.array_equal(outputs["y"], records(7) + 1)


def test_open_batch_models_take_chunks_of_the_default_size(tmp_path):
    count = splitter.DEFAULT_MAX_RECORDS * 2 + 5
    outputs = run_records(engine_for(tmp_path, models.add_one(shape=(-1, 3))), {"x": records(count)})
    assert np.array_equal(outputs["y"], records(count) + 1)


def test_ranged_batch_pads_the_last_chunk_up_to_the_minimum(tmp_path):
    outputs = run_records(engine_for(tmp_path, models.add_one(shape=(-1, 3)), shape=parse_shape("shape", "(2:5,3)")), {"x": records(11)})
    assert np.array_equal(outputs["y"], records(11) + 1)


def test_limits_come_from_the_first_dimension():
    from ovserve.handler.signature import Signature, TensorSpec
    from ovserve.handler.tensors import from_ov_name

    def sig(first):
        return Signature((TensorSpec("x", 0, from_ov_name("f32"), (first, 3)),), ())

    assert splitter.batch_limits(sig(8)) == (8, 8)
    assert splitter.batch_limits(sig(-1), max_records=32) == (1, 32)
    assert splitter.batch_limits(sig((2, 5))) == (2, 5)
    assert splitter._chunks(10, 4, 4) == [(0, 4, 4), (4, 8, 4), (8, 10, 4)]


def test_outputs_without_a_record_dimension_cannot_be_matched(tmp_path):
    x = ops.parameter([2, 3], ov.Type.f32, name="x")
    total = ops.reduce_sum(x, ops.constant(np.array([0, 1], dtype=np.int64)), keep_dims=False)
    total.output(0).set_names({"total"})
    model = ov.Model([ops.result(total)], [x], "sum_all")
    with pytest.raises(InvalidInput, match="not one row per record"):
        run_records(engine_for(tmp_path, model), {"x": records(5)})


def test_records_must_share_a_first_dimension():
    with pytest.raises(InvalidInput, match="do not share a first"):
        splitter.record_count({"a": np.zeros((2, 3)), "b": np.zeros((3, 3))})


def test_zero_records_are_refused_naming_the_empty_input(tmp_path):
    engine = engine_for(tmp_path, models.two_in_two_out())
    with pytest.raises(InvalidInput, match=r"no records.*'a'.*expected at least one record") as caught:
        run_records(engine, {"a": np.zeros((0, 3), np.float32), "b": np.zeros((0, 3), np.float32)})
    assert "'b'" in caught.value.message


def batch_size_echo() -> ov.Model:
    """x [-1, 3] -> y [-1, 3] where every value is the size of the batch it ran in: shows how records were chunked."""
    x = ops.parameter([-1, 3], ov.Type.f32, name="x")
    size = ops.convert(ops.gather(ops.shape_of(x), ops.constant(np.int64(0)), ops.constant(np.int64(0))), ov.Type.f32)
    y = ops.add(ops.multiply(x, ops.constant(np.float32(0))), size)
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "batch_size_echo")


def test_the_configured_records_per_batch_reaches_the_chunking(tmp_path):
    outputs = run_records(engine_for(tmp_path, batch_size_echo(), nireq=1, max_records_per_batch=4), {"x": records(10)})
    assert outputs["y"][:, 0].tolist() == [4.0] * 8 + [2.0] * 2


def test_the_default_records_per_batch_is_1024(tmp_path):
    assert splitter.DEFAULT_MAX_RECORDS == 1024 == ModelConfig(name="m", base_path=".").max_records_per_batch
    outputs = run_records(engine_for(tmp_path, batch_size_echo(), nireq=1), {"x": records(1030)})
    assert set(outputs["y"][:1024, 0].tolist()) == {1024.0} and set(outputs["y"][1024:, 0].tolist()) == {6.0}
