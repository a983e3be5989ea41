"""Large decodes and encodes leave the event loop; small ones stay on it (issue 12: 6, 9).

The engine runs in-process over real OpenVINO models (tests/models.py); only
the sizes that decide where work runs are chosen here.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from ovserve.handler import offload
from ovserve.handler.engine import InferRequest
from ovserve.handler.errors import InvalidInput
from ovserve.handler.protos import serving_apis_pb2
from ovserve.handler.signature import Signature
from tests import models
from tests.engines import engine_for, run


def test_small_builds_run_on_the_loop_and_large_ones_on_a_worker(tmp_path) -> None:
    engine = engine_for(tmp_path, m=models.add_one())
    threads: list[str] = []

    def build(signature: Signature) -> dict[str, np.ndarray]:
        threads.append(threading.current_thread().name)
        return {"x": np.ones((1, 10), np.float32)}

    async def scenario():
        small = await engine.predict(InferRequest("m", None, build))
        large = await engine.predict(InferRequest("m", None, build, work_bytes=offload.OFFLOAD_AT_BYTES))
        return small, large

    small, large = run(engine, scenario)
    assert threads[0] == threading.main_thread().name
    assert threads[1].startswith("ovserve-codec-")
    np.testing.assert_array_equal(small.outputs["y"], large.outputs["y"])


def test_the_loop_keeps_serving_while_a_large_build_runs(tmp_path) -> None:
    engine = engine_for(tmp_path, m=models.add_one())
    loop_ran = threading.Event()
    running: list[asyncio.AbstractEventLoop] = []

    def build(signature: Signature) -> dict[str, np.ndarray]:
        # The loop must run this callback while the build is still going; on the loop itself it never could.
        running[0].call_soon_threadsafe(loop_ran.set)
        assert loop_ran.wait(10), "the event loop did not run while the arrays were being built"
        return {"x": np.ones((1, 10), np.float32)}

    async def scenario():
        running.append(asyncio.get_running_loop())
        return await engine.predict(InferRequest("m", None, build, work_bytes=10 << 20))

    assert run(engine, scenario).outputs["y"].shape == (1, 10)


def test_worker_errors_reach_the_caller() -> None:
    def fails() -> None:
        raise InvalidInput("bad body")

    def stops() -> None:
        raise StopIteration

    async def scenario():
        with pytest.raises(InvalidInput, match="bad body"):
            await offload.sized(offload.OFFLOAD_AT_BYTES, fails)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await offload.on_worker(stops)
        return await offload.sized(1 << 30, lambda: 42)

    assert asyncio.run(scenario()) == 42


def test_large_grpc_style_fills_are_converted_on_the_worker(tmp_path) -> None:
    from ovserve.handler.codecs import tfs_proto

    engine = engine_for(tmp_path, s=models.int_sum())
    request = serving_apis_pb2.PredictRequest()
    message = request.inputs["values"]
    message.dtype = 3  # DT_INT32 into the model's i64
    message.tensor_shape.dim.add(size=100_000)
    message.tensor_shape.dim.add(size=4)
    message.int_val.append(2)
    arrays = tfs_proto.RequestArrays(request)
    assert arrays.work_bytes >= offload.OFFLOAD_AT_BYTES

    prediction = run(engine, lambda: engine.predict(InferRequest("s", None, arrays, work_bytes=arrays.work_bytes)))
    assert prediction.outputs["total"].shape == (100_000,) and set(prediction.outputs["total"].tolist()) == {8}
