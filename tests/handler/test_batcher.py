"""Batcher over real compiled models and a real InferPool: merging, the idle rule, padding, queue bounds, failures.

A ``GatedPool`` wraps the real pool and holds each inference until the test lets
it go, so "an inference is running" is a state the test sets, not a timing; the
rows of every inference it passes on are recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from ovserve.handler import batcher as batcher_module
from ovserve.handler.batcher import LONE_LEADS_BEFORE_SKIPPING, PROBE_EVERY, Batcher, batching_problem
from ovserve.handler.batching_settings import BatchingSettings
from ovserve.handler.errors import NotReady, Overloaded
from ovserve.handler.infer_pool import InferenceFailed, InferPool
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import from_ov_name
from tests import models

DEADLINE_SECONDS = 30
LONG = 10_000_000  # a 10 s window: a test that finishes did not wait for it
_labels = itertools.count()


def rows_model() -> ov.Model:
    """x [-1, 3] f32 -> doubled = 2x + 1 [-1, 3], total = row sums [-1, 1]."""
    x = ops.parameter([-1, 3], ov.Type.f32, name="x")
    doubled = ops.add(ops.multiply(x, ops.constant(np.float32(2))), ops.constant(np.float32(1)))
    total = ops.reduce_sum(x, ops.constant(np.array([1], np.int64)), keep_dims=True)
    doubled.output(0).set_names({"doubled"})
    total.output(0).set_names({"total"})
    return ov.Model([ops.result(doubled), ops.result(total)], [x], "rows")


def any_width() -> ov.Model:
    """x [-1, -1] f32 -> x + 1: requests of different widths are all valid, and must not merge."""
    x = ops.parameter([-1, -1], ov.Type.f32, name="x")
    y = ops.add(x, ops.constant(np.float32(1)))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "any_width")


def fixed_batch(batch: int = 4) -> ov.Model:
    return models.add_one(shape=(batch, 3))


def refuses_negatives() -> ov.Model:
    """x [-1, -1] i64 -> plus_one, and zeros of shape [rows, min(x)]: a negative value anywhere fails the inference."""
    x = ops.parameter([-1, -1], ov.Type.i64, name="x")
    plus_one = ops.add(x, ops.constant(np.int64(1)))
    rows = ops.gather(ops.shape_of(x), ops.constant(np.array([0], np.int64)), ops.constant(np.int64(0)))
    smallest = ops.reduce_min(x, ops.constant(np.array([0, 1], np.int64)), keep_dims=False)
    target = ops.concat([rows, ops.unsqueeze(smallest, ops.constant(np.int64(0)))], 0)
    zeros = ops.broadcast(ops.constant(np.float32(0)), target)
    plus_one.output(0).set_names({"plus_one"})
    zeros.output(0).set_names({"zeros"})
    return ov.Model([ops.result(plus_one), ops.result(zeros)], [x], "refuses_negatives")


@pytest.fixture(scope="module")
def core() -> ov.Core:
    return ov.Core()


@pytest.fixture(scope="module")
def compiled(core):
    cache: dict[str, object] = {}

    def compile_(name: str):
        if name not in cache:
            build = {"rows": rows_model, "any_width": any_width, "fixed": fixed_batch, "refuses": refuses_negatives,
                     "add_one": models.add_one}[name]
            cache[name] = core.compile_model(build(), "CPU", models.F32)
        return cache[name]

    return compile_


class GatedPool:
    """A real ``InferPool`` whose inferences wait until the test opens the gate; records each inference's inputs."""

    def __init__(self, pool: InferPool) -> None:
        self.pool = pool
        self.gate = asyncio.Event()
        self.inputs: list[dict[int, np.ndarray]] = []

    @property
    def size(self) -> int:
        return self.pool.size

    @property
    def rows(self) -> list[int]:
        return [next(iter(inputs.values())).shape[0] for inputs in self.inputs]

    async def run(self, inputs):
        self.inputs.append(inputs)
        await self.gate.wait()
        return await self.pool.run(inputs)

    def close(self) -> None:
        self.pool.close()


@pytest.fixture
def make(compiled):
    """make(model_name, gated=False, size=1, **settings) -> (batcher, pool); every pool is closed at teardown."""
    made: list[InferPool] = []

    def build(name: str, gated: bool = False, size: int = 1, **settings):
        model = compiled(name)
        pool = InferPool(model, size, 64, f"test-batcher-{next(_labels)}")
        made.append(pool)
        inner = GatedPool(pool) if gated else pool
        settings.setdefault("batch_timeout_micros", LONG)
        return Batcher(inner, model, BatchingSettings(**settings), label=name), inner

    yield build
    for pool in made:
        pool.close()


async def until(condition, what: str) -> None:
    """Yield to the loop until ``condition()`` holds (state the batcher reaches by itself, not a timer)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0)


def rows_of(values, width: int = 3) -> np.ndarray:
    return np.array([[v] * width for v in values], np.float32)


def unbatched(compiled_model, array: np.ndarray) -> tuple[np.ndarray, ...]:
    """The model's answer to ``array`` alone, straight from OpenVINO."""
    return tuple(compiled_model.create_infer_request().infer({0: array}).to_tuple())


def assert_same(got: tuple, expected: tuple) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)


async def occupy(batcher: Batcher, gated: GatedPool, value: float = 0.0, width: int = 3) -> asyncio.Task:
    """A first request that the idle model starts at once and the gate then holds: the model is busy."""
    task = asyncio.create_task(batcher.run({0: rows_of([value], width)}))
    await until(lambda: len(gated.inputs) == 1, "the first request to start")
    return task


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows(make, compiled):
    batcher, gated = make("rows", gated=True, max_batch_size=16)

    async def scenario():
        first = await occupy(batcher, gated)
        inputs = [rows_of([n]) if n % 2 else rows_of([n, n + 0.5]) for n in range(1, 7)]
        queued = [asyncio.create_task(batcher.run({0: x})) for x in inputs]
        await until(lambda: batcher.stats.requests == 7, "every request to queue")
        assert gated.rows == [1]  # a busy model: the others wait for the window, which is 10 s
        gated.gate.set()  # the running inference ends, the model is idle: the queue runs now
        return await first, inputs, await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    first, inputs, answers = asyncio.run(scenario())

    assert gated.rows == [1, sum(len(x) for x in inputs)]
    assert batcher.stats.inferences == 2 < batcher.stats.requests == 7
    assert batcher.stats.merged_requests == 6
    assert_same(first, unbatched(compiled("rows"), rows_of([0])))
    for x, answer in zip(inputs, answers, strict=True):
        assert_same(answer, unbatched(compiled("rows"), x))
        assert answer[0].flags.c_contiguous


def test_a_lone_request_on_an_idle_model_does_not_wait_for_the_window(make, compiled):
    """With a 10 s window, each request here completes well inside the 5 s deadline: the idle rule ran it."""
    batcher, _ = make("rows")

    async def scenario():
        return [await asyncio.wait_for(batcher.run({0: rows_of([n])}), 5) for n in range(3)]

    answers = asyncio.run(scenario())

    assert batcher.stats.inferences == 3 and batcher.stats.merged_requests == 0
    for n, answer in enumerate(answers):
        assert_same(answer, unbatched(compiled("rows"), rows_of([n])))


def test_a_lone_client_stops_paying_a_loop_turn_and_company_brings_the_turn_back(make, compiled):
    """After LONE_LEADS_BEFORE_SKIPPING solitary leads, only every PROBE_EVERY-th still yields; a burst re-arms it."""
    batcher, _ = make("rows", max_batch_size=32)
    lone = LONE_LEADS_BEFORE_SKIPPING + 2 * PROBE_EVERY

    async def scenario():
        for n in range(lone):
            await batcher.run({0: rows_of([n])})
        waited_alone = batcher.stats.waited_turns
        while batcher.stats.waited_turns == waited_alone:  # send bursts until one lands on a probing lead
            await asyncio.gather(*(batcher.run({0: rows_of([n])}) for n in range(4)))
        before = batcher.stats.inferences
        await asyncio.gather(*(batcher.run({0: rows_of([n])}) for n in range(4)))  # waiting is back: merged at once
        return waited_alone, batcher.stats.inferences - before

    waited_alone, inferences = asyncio.run(scenario())

    assert LONE_LEADS_BEFORE_SKIPPING <= waited_alone <= LONE_LEADS_BEFORE_SKIPPING + 3  # 8 first, then 1 in 16
    assert inferences == 1


def test_requests_queued_in_the_same_loop_turn_run_together(make, compiled):
    """Nothing is running, yet a burst arriving together is one inference (the add-one model runs inline)."""
    batcher, _ = make("rows", max_batch_size=32)

    async def scenario():
        return await asyncio.gather(*(batcher.run({0: rows_of([n])}) for n in range(20)))

    answers = asyncio.run(scenario())

    assert batcher.stats.inferences == 1 and batcher.stats.requests == 20
    for n, answer in enumerate(answers):
        assert_same(answer, unbatched(compiled("rows"), rows_of([n])))


def test_while_the_model_is_busy_a_free_request_waits_for_the_window(make):
    """Two infer requests, one busy: a newcomer waits for its 1 ms window (or company), then takes the free one."""
    batcher, gated = make("rows", gated=True, size=2, batch_timeout_micros=1000)

    async def scenario():
        first = await occupy(batcher, gated)
        second = asyncio.create_task(batcher.run({0: rows_of([1])}))
        await until(lambda: len(gated.inputs) == 2, "the window to pass")  # a timer, not the idle rule: one still runs
        gated.gate.set()
        return await asyncio.wait_for(asyncio.gather(first, second), DEADLINE_SECONDS)

    asyncio.run(scenario())
    assert gated.rows == [1, 1]


def test_different_non_batch_shapes_go_to_different_batches(make, compiled):
    batcher, gated = make("any_width", gated=True)

    async def scenario():
        first = await occupy(batcher, gated, width=3)
        inputs = [rows_of([1], 3), rows_of([2], 4), rows_of([3], 3), rows_of([4, 5], 4)]
        queued = [asyncio.create_task(batcher.run({0: x})) for x in inputs]
        await until(lambda: batcher.stats.requests == 5, "every request to queue")
        gated.gate.set()
        await first
        return inputs, await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    inputs, answers = asyncio.run(scenario())

    assert [x[0].shape for x in gated.inputs] == [(1, 3), (2, 3), (3, 4)]
    for x, answer in zip(inputs, answers, strict=True):
        assert_same(answer, unbatched(compiled("any_width"), x))


def test_a_request_cancelled_while_queued_leaves_and_the_batch_runs_for_the_others(make, compiled):
    batcher, gated = make("rows", gated=True)

    async def scenario():
        first = await occupy(batcher, gated)
        queued = [asyncio.create_task(batcher.run({0: rows_of([n])})) for n in (1, 2, 3)]
        await until(lambda: batcher.stats.requests == 4, "every request to queue")
        queued[1].cancel()
        await asyncio.gather(queued[1], return_exceptions=True)
        gated.gate.set()
        await first
        return await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), DEADLINE_SECONDS)

    one, two, three = asyncio.run(scenario())

    assert isinstance(two, asyncio.CancelledError)
    assert gated.rows == [1, 2]
    np.testing.assert_array_equal(gated.inputs[1][0], rows_of([1, 3]))
    assert_same(one, unbatched(compiled("rows"), rows_of([1])))
    assert_same(three, unbatched(compiled("rows"), rows_of([3])))


def test_a_batch_whose_requests_all_left_never_runs(make):
    batcher, gated = make("rows", gated=True)

    async def scenario():
        first = await occupy(batcher, gated)
        queued = [asyncio.create_task(batcher.run({0: rows_of([n])})) for n in (1, 2)]
        await until(lambda: batcher.stats.requests == 3, "every request to queue")
        for task in queued:
            task.cancel()
        await asyncio.gather(*queued, return_exceptions=True)
        gated.gate.set()
        await first
        return await asyncio.wait_for(batcher.run({0: rows_of([9])}), 5)  # idle again: runs at once

    asyncio.run(scenario())
    assert gated.rows == [1, 1]


def test_a_request_larger_than_the_maximum_runs_on_its_own(make, compiled):
    batcher, gated = make("rows", gated=True, max_batch_size=4)

    async def scenario():
        first = await occupy(batcher, gated)
        large, small = rows_of(range(6)), [rows_of([7]), rows_of([8])]
        queued = [asyncio.create_task(batcher.run({0: x})) for x in (large, *small)]
        await until(lambda: batcher.stats.requests == 4, "every request to queue")
        gated.gate.set()
        await first
        return [large, *small], await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    inputs, answers = asyncio.run(scenario())

    assert gated.rows == [1, 6, 2]
    for x, answer in zip(inputs, answers, strict=True):
        assert_same(answer, unbatched(compiled("rows"), x))


def test_a_fixed_batch_model_gets_every_batch_padded_to_its_size(make, compiled):
    batcher, gated = make("fixed", gated=True, max_batch_size=32)  # the model's batch of 4 wins

    async def scenario():
        first = await occupy(batcher, gated, value=1.0)
        inputs = [rows_of([2]), rows_of([3, 4]), rows_of([5]), rows_of([6, 7])]  # 6 rows: 4, then 2 padded
        queued = [asyncio.create_task(batcher.run({0: x})) for x in inputs]
        await until(lambda: batcher.stats.requests == 5, "every request to queue")
        gated.gate.set()
        return await first, inputs, await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    first, inputs, answers = asyncio.run(scenario())

    assert gated.rows == [4, 4, 4]
    np.testing.assert_array_equal(gated.inputs[0][0], rows_of([1, 1, 1, 1]))  # padding repeats the last real row
    np.testing.assert_array_equal(gated.inputs[2][0], rows_of([6, 7, 7, 7]))
    assert batcher.stats.padded_rows == 3 + 0 + 2
    np.testing.assert_array_equal(first[0], rows_of([1]) + 1)
    for x, (answer,) in zip(inputs, answers, strict=True):
        np.testing.assert_array_equal(answer, x + 1)


def test_allowed_batch_sizes_pad_to_the_next_allowed_size(make, compiled):
    batcher, gated = make("rows", gated=True, max_batch_size=8, allowed_batch_sizes=(2, 4, 8))

    async def scenario():
        first = await occupy(batcher, gated)
        inputs = [rows_of([1]), rows_of([2, 3])]
        queued = [asyncio.create_task(batcher.run({0: x})) for x in inputs]
        await until(lambda: batcher.stats.requests == 3, "every request to queue")
        gated.gate.set()
        return await first, inputs, await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    first, inputs, answers = asyncio.run(scenario())

    assert gated.rows == [2, 4]
    assert_same(first, unbatched(compiled("rows"), rows_of([0])))
    for x, answer in zip(inputs, answers, strict=True):
        assert_same(answer, unbatched(compiled("rows"), x))


def test_a_full_queue_is_overloaded_at_once_and_the_queued_still_run(make):
    batcher, gated = make("rows", gated=True, max_batch_size=1, max_enqueued_batches=2)

    async def scenario():
        first = await occupy(batcher, gated)
        queued = [asyncio.create_task(batcher.run({0: rows_of([n])})) for n in (1, 2)]
        await until(lambda: batcher.stats.requests == 3, "two batches to queue")
        with pytest.raises(Overloaded) as caught:
            await batcher.run({0: rows_of([3])})
        gated.gate.set()
        await first
        return caught.value, await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    refused, answers = asyncio.run(scenario())

    assert "max_enqueued_batches" in refused.message
    assert [float(a[0][0, 0]) for a in answers] == [3.0, 5.0]
    assert gated.rows == [1, 1, 1]


def test_values_a_merged_batch_cannot_take_fail_only_the_request_that_brought_them(make, compiled):
    batcher, gated = make("refuses", gated=True)

    async def scenario():
        first = asyncio.create_task(batcher.run({0: np.array([[5, 5]], np.int64)}))
        await until(lambda: len(gated.inputs) == 1, "the first request to start")
        narrow = [np.array([[2]], np.int64), np.array([[-1]], np.int64), np.array([[2]], np.int64)]
        wide = [np.array([[1, 1]], np.int64), np.array([[1, 1]], np.int64)]  # another shape: another batch
        queued = [asyncio.create_task(batcher.run({0: x})) for x in (*narrow, *wide)]
        await until(lambda: batcher.stats.requests == 6, "every request to queue")
        gated.gate.set()
        await first
        return narrow + wide, await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), DEADLINE_SECONDS)

    inputs, answers = asyncio.run(scenario())

    assert isinstance(answers[1], InferenceFailed), answers[1]
    for index in (0, 2, 3, 4):
        assert_same(answers[index], unbatched(compiled("refuses"), inputs[index]))
    assert batcher.stats.retried_alone == 3
    assert gated.rows == [1, 3, 1, 1, 1, 2]  # first; the refused narrow batch, its three alone; the wide batch


def test_large_inputs_are_concatenated_off_the_event_loop(make, compiled, monkeypatch):
    batcher, gated = make("rows", gated=True, max_batch_size=1_000_000)
    threads: list[str] = []
    real = batcher_module._assemble

    def recording(entries, size):
        threads.append(threading.current_thread().name)
        return real(entries, size)

    monkeypatch.setattr(batcher_module, "_assemble", recording)
    big = [np.full((200_000, 3), n, np.float32) for n in (1, 2)]  # 2.4 MB each: over the raw offload threshold together

    async def scenario():
        first = await occupy(batcher, gated)
        queued = [asyncio.create_task(batcher.run({0: x})) for x in big]
        await until(lambda: batcher.stats.requests == 3, "every request to queue")
        gated.gate.set()
        await first
        return await asyncio.wait_for(asyncio.gather(*queued), DEADLINE_SECONDS)

    answers = asyncio.run(scenario())

    assert threads and threads[0].startswith("ovserve-codec-"), threads
    for x, answer in zip(big, answers, strict=True):
        np.testing.assert_array_equal(answer[0], x * 2 + 1)


def test_close_runs_what_is_queued_then_refuses(make):
    batcher, gated = make("rows", gated=True)

    async def scenario():
        first = await occupy(batcher, gated)
        queued = asyncio.create_task(batcher.run({0: rows_of([1])}))
        await until(lambda: batcher.stats.requests == 2, "the second request to queue")
        batcher.close()
        gated.gate.set()
        await asyncio.wait_for(asyncio.gather(first, queued), DEADLINE_SECONDS)
        with pytest.raises(NotReady):
            await batcher.run({0: rows_of([2])})

    asyncio.run(scenario())
    assert gated.rows == [1, 1]


def spec(name: str, shape, layout=None) -> TensorSpec:
    return TensorSpec(name, 0, from_ov_name("f32"), shape, layout)


@pytest.mark.parametrize(
    ("inputs", "outputs", "problem"),
    [
        ([spec("x", (-1, 3))], [spec("y", (-1, 3))], None),
        ([spec("x", ((1, 16), 3))], [spec("y", (-1,))], None),
        ([spec("x", (4, 3))], [spec("y", (4, 3))], None),
        ([spec("x", (-1, 3))], [spec("y", (3,))], "output 'y' always has 3 rows instead of the request's rows"),
        ([spec("x", (-1, 3))], [spec("y", None)], "output 'y' has no known rank"),
        ([spec("x", (-1, 3))], [spec("y", ())], "output 'y' is a scalar"),
        ([spec("x", (3, -1, 8, 8), "CNHW")], [spec("y", (-1,))], "input 'x' has layout CNHW"),
        ([spec("x", (1, 10))], [spec("y", (1, 10))], "fixed batch of 1"),
        ([spec("a", (2, 3)), spec("b", (4, 3))], [spec("y", (-1,))], "different fixed batch sizes"),
        ([spec("x", (4, 3))], [spec("y", (1, 3))], "always has 1 rows instead of the batch of 4"),
    ],
)
def test_batching_problem_names_the_port_that_lacks_a_batch_dimension(inputs, outputs, problem):
    found = batching_problem(Signature(tuple(inputs), tuple(outputs)))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_batching_problem_reads_compiled_models_too(compiled):
    assert batching_problem(compiled("rows")) is None
    assert batching_problem(compiled("fixed")) is None
    assert "fixed batch of 1" in batching_problem(compiled("add_one"))


def test_other_shapes_arriving_with_a_lone_leader_get_their_window_on_a_free_request(make, compiled):
    """The first request leads (alone in its shape); another shape from the same loop turn still runs after its
    1 ms window on the second infer request, not after the leader's inference, which the gate holds."""
    batcher, gated = make("any_width", gated=True, size=2, batch_timeout_micros=1000)

    async def scenario():
        lead = asyncio.create_task(batcher.run({0: rows_of([1], 3)}))
        other = asyncio.create_task(batcher.run({0: rows_of([2], 4)}))
        await until(lambda: len(gated.inputs) == 2, "the other shape to start beside the leader")
        gated.gate.set()
        return await asyncio.wait_for(asyncio.gather(lead, other), DEADLINE_SECONDS)

    (lead,), (other,) = asyncio.run(scenario())
    np.testing.assert_array_equal(lead, rows_of([2], 3))
    np.testing.assert_array_equal(other, rows_of([3], 4))


def test_a_request_cancelled_after_its_batch_started_leaves_the_batch_to_finish(make, compiled):
    batcher, gated = make("rows", gated=True, size=2, batch_timeout_micros=1000)

    async def scenario():
        first = await occupy(batcher, gated)
        queued = [asyncio.create_task(batcher.run({0: rows_of([n])})) for n in (1, 2)]
        await until(lambda: len(gated.inputs) == 2, "the second batch to start on the free request")
        queued[0].cancel()
        gated.gate.set()
        await first
        return await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), DEADLINE_SECONDS)

    gone, kept = asyncio.run(scenario())

    assert isinstance(gone, asyncio.CancelledError)
    assert gated.rows == [1, 2]
    assert_same(kept, unbatched(compiled("rows"), rows_of([2])))


def test_closing_an_unused_batcher_closes_its_pool(make):
    batcher, gated = make("rows", gated=True)
    batcher.close()
    assert gated.pool._closed and gated.pool._stopped


def test_with_batching_a_fixed_batch_takes_fewer_rows_at_validation():
    from ovserve.handler.batcher import validation_signature
    from ovserve.handler.validation import first_shape_problem

    fixed = Signature((spec("x", (4, 3)), spec("n", (-1,))), (spec("y", (4, 3)),))
    relaxed = validation_signature(fixed)
    assert first_shape_problem({"x": np.zeros((4, 3), np.float32)}, fixed) is None
    assert first_shape_problem({"x": np.zeros((2, 3), np.float32)}, fixed) is not None
    assert first_shape_problem({"x": np.zeros((2, 3), np.float32)}, relaxed) is None
    assert "required shape [1:4, 3]" in first_shape_problem({"x": np.zeros((5, 3), np.float32)}, relaxed)
    assert "required shape [1:4, 3]" in first_shape_problem({"x": np.zeros((2, 4), np.float32)}, relaxed)
    assert relaxed.inputs[1] == fixed.inputs[1] and relaxed.outputs == fixed.outputs
