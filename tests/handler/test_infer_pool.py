"""InferPool over real compiled models: order, copies, concurrency, back-pressure, cancellation, failures, close."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from ovserve.handler.errors import InsufficientResources, InvalidInput, Overloaded, http_status, is_out_of_memory
from ovserve.handler.infer_pool import InferenceFailed, InferenceOutOfMemory, InferPool
from tests import models

DEADLINE_SECONDS = 30
_labels = itertools.count()


@pytest.fixture(scope="module")
def core() -> ov.Core:
    return ov.Core()


@pytest.fixture(scope="module")
def add_one(core):
    return core.compile_model(models.add_one(), "CPU", models.F32)


@pytest.fixture
def pools():
    """Make pools with unique labels; every pool is closed at teardown."""
    made: list[InferPool] = []

    def make(compiled, size=1, max_waiting=16, label=None) -> InferPool:
        pool = InferPool(compiled, size, max_waiting, label or f"test-pool-{next(_labels)}")
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def row(value: float) -> np.ndarray:
    return np.full((1, 10), value, dtype=np.float32)


def threads_of(label: str) -> list[str]:
    return [t.name for t in threading.enumerate() if f"ovserve-infer-{label}-" in t.name]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def block_until_a_worker_reports(loop: asyncio.AbstractEventLoop) -> None:
    """Hold the loop thread until a worker thread has queued a finished run on the loop.

    Called when nothing else is queued, so the first queued callback is the worker's report. Whatever
    the caller does next (cancel a task, schedule a callback) is ordered after that report, without timing.
    """
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not loop._ready:
        assert time.monotonic() < deadline, "the running inference never reported back"
        time.sleep(0.001)


def test_size_and_one_named_daemon_thread_per_request(add_one, pools):
    pool = pools(add_one, size=3, label="sized")

    assert pool.size == 3
    assert sorted(threads_of("sized")) == [f"ovserve-infer-sized-{n}" for n in range(3)]
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("ovserve-infer-sized-"))


def test_outputs_come_back_in_port_order(core, pools):
    pool = pools(core.compile_model(models.two_in_two_out(), "CPU", models.F32))
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    b = np.array([[10, 10, 10], [0.5, 0.5, 0.5]], dtype=np.float32)

    outputs = asyncio.run(pool.run({0: a, 1: b}))

    assert isinstance(outputs, tuple) and len(outputs) == 2
    np.testing.assert_array_equal(outputs[0], a + b)  # port 0: "sum"
    np.testing.assert_array_equal(outputs[1], a * b)  # port 1: "product"


def test_inputs_are_matched_by_port_index(core, pools):
    """x - y is not symmetric, so swapped inputs would show."""
    x = ops.parameter([2], ov.Type.f32, name="x")
    y = ops.parameter([2], ov.Type.f32, name="y")
    difference = ops.subtract(x, y)
    pool = pools(core.compile_model(ov.Model([ops.result(difference)], [x, y], "sub"), "CPU", models.F32))

    (out,) = asyncio.run(pool.run({1: np.array([1, 2], np.float32), 0: np.array([10, 20], np.float32)}))

    np.testing.assert_array_equal(out, [9, 18])


def test_outputs_are_copies_that_later_runs_do_not_touch(add_one, pools):
    pool = pools(add_one, size=1)  # one request: every run reuses the same output buffer

    async def scenario():
        (first,) = await pool.run({0: row(0)})
        (second,) = await pool.run({0: row(5)})
        first_after_second = first.copy()
        second[:] = -100  # a caller scribbling on its result
        (third,) = await pool.run({0: row(7)})
        return first_after_second, second, third

    first, second, third = asyncio.run(scenario())
    np.testing.assert_array_equal(first, row(1))
    np.testing.assert_array_equal(second, row(-100))
    np.testing.assert_array_equal(third, row(8))


def test_results_are_writable_arrays_of_the_model_type(add_one, pools):
    pool = pools(add_one)

    (out,) = asyncio.run(pool.run({0: row(2)}))

    assert out.dtype == np.float32 and out.shape == (1, 10)
    assert out.flags.writeable
    out += 1  # must not raise
    np.testing.assert_array_equal(out, row(4))


def test_more_concurrent_runs_than_requests_all_complete(add_one, pools):
    pool = pools(add_one, size=2, max_waiting=64)

    async def scenario():
        return await asyncio.wait_for(asyncio.gather(*(pool.run({0: row(n)}) for n in range(40))), DEADLINE_SECONDS)

    results = asyncio.run(scenario())

    assert len(results) == 40
    for n, (out,) in enumerate(results):
        np.testing.assert_array_equal(out, row(n + 1))


def test_overloaded_when_too_many_callers_wait(add_one, pools):
    pool = pools(add_one, size=1, max_waiting=2, label="busy-model")

    async def scenario():
        # The first run takes the only request; the next two wait; the fourth finds the queue full.
        # All four take their first step before any inference result can reach the loop.
        return await asyncio.gather(*(pool.run({0: row(n)}) for n in range(4)), return_exceptions=True)

    first, second, third, fourth = asyncio.run(scenario())

    for n, result in enumerate((first, second, third)):
        np.testing.assert_array_equal(result[0], row(n + 1))
    assert isinstance(fourth, Overloaded)
    assert fourth.kind == "overloaded"
    assert "busy-model" in fourth.message
    assert "--max_queued_requests" in fourth.message


def test_the_pool_serves_again_after_an_overload(add_one, pools):
    pool = pools(add_one, size=1, max_waiting=1)

    async def scenario():
        burst = await asyncio.gather(*(pool.run({0: row(n)}) for n in range(5)), return_exceptions=True)
        after = await asyncio.wait_for(asyncio.gather(*(pool.run({0: row(n)}) for n in range(2))), DEADLINE_SECONDS)
        return burst, after

    burst, after = asyncio.run(scenario())

    assert [type(r) for r in burst[2:]] == [Overloaded, Overloaded, Overloaded]
    assert [float(out[0][0, 0]) for out in after] == [1.0, 2.0]


async def full_capacity_serves(pool: InferPool, waiting: int) -> bool:
    """Whether ``size + waiting`` simultaneous runs all succeed: they do only if every request is idle
    and no stale waiter fills the queue (the pool was made with ``max_waiting == waiting``)."""
    results = await asyncio.gather(*(pool.run({0: row(n)}) for n in range(pool.size + waiting)), return_exceptions=True)
    if any(isinstance(r, Overloaded) for r in results):
        return False
    for n, result in enumerate(results):
        assert not isinstance(result, BaseException), result
        np.testing.assert_array_equal(result[0], row(n + 1))
    return True


async def until_full_capacity(pool: InferPool, waiting: int) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await full_capacity_serves(pool, waiting):
        assert time.monotonic() < deadline, "requests leaked: the pool never got back to full capacity"
        await asyncio.sleep(0.01)


def test_cancelled_waiters_do_not_leak_requests(add_one, pools):
    waiting = 4
    pool = pools(add_one, size=2, max_waiting=waiting)

    async def scenario():
        assert await full_capacity_serves(pool, waiting)  # the check itself passes on a fresh pool
        started = asyncio.Event()

        async def occupy(value):
            started.set()
            return await pool.run({0: row(value)})

        occupants = [asyncio.create_task(occupy(n)) for n in range(pool.size)]
        waiters = [asyncio.create_task(pool.run({0: row(100 + n)})) for n in range(waiting)]
        await started.wait()  # every task above has taken its first step: both requests busy, four waiting
        for waiter in waiters:
            waiter.cancel()
        waited = await asyncio.gather(*waiters, return_exceptions=True)
        occupied = await asyncio.wait_for(asyncio.gather(*occupants), DEADLINE_SECONDS)
        await until_full_capacity(pool, waiting)
        return waited, occupied

    waited, occupied = asyncio.run(scenario())

    assert all(isinstance(w, BaseException) for w in waited), waited  # none of them ran
    assert [float(out[0][0, 0]) for out in occupied] == [1.0, 2.0]


def test_callers_cancelled_at_every_stage_do_not_leak_requests(add_one, pools):
    """Occupants finish and hand requests to waiters while the waiters are being cancelled."""
    waiting = 6
    pool = pools(add_one, size=2, max_waiting=waiting)

    async def scenario():
        for _ in range(20):
            waiters: list[asyncio.Task] = []

            async def occupy(value, waiters=waiters):
                out = await pool.run({0: row(value)})
                for waiter in waiters:  # some are still waiting, some already hold a request
                    waiter.cancel()
                return out

            occupants = [asyncio.create_task(occupy(n)) for n in range(pool.size)]
            waiters.extend(asyncio.create_task(pool.run({0: row(n)})) for n in range(waiting))
            occupied = await asyncio.wait_for(asyncio.gather(*occupants), DEADLINE_SECONDS)
            assert [float(out[0][0, 0]) for out in occupied] == [1.0, 2.0]
            await asyncio.gather(*waiters, return_exceptions=True)
            await until_full_capacity(pool, waiting)

    asyncio.run(scenario())


async def occupant_then_waiter(pool: InferPool) -> tuple[asyncio.Task, asyncio.Task]:
    """One run holding the pool's only request, and a second run queued behind it."""
    occupant_started, waiter_started = asyncio.Event(), asyncio.Event()

    async def occupy():
        occupant_started.set()
        return await pool.run({0: row(1)})

    async def wait():
        waiter_started.set()
        return await pool.run({0: row(2)})

    occupant = asyncio.create_task(occupy())
    await occupant_started.wait()
    waiter = asyncio.create_task(wait())
    await waiter_started.wait()
    return occupant, waiter


def test_a_waiter_cancelled_just_as_a_request_frees_up_sees_its_cancellation(add_one, pools):
    """The waiter is cancelled after the finishing run was queued on the loop but before the hand-over ran.

    The hand-over then runs before the cancelled waiter wakes up and skips it; the waiter must still
    end with its CancelledError (a caller's timeout or disconnect), not with an error of the pool's own.
    """
    pool = pools(add_one, size=1, max_waiting=1)

    async def scenario():
        loop = asyncio.get_running_loop()
        occupant, waiter = await occupant_then_waiter(pool)
        block_until_a_worker_reports(loop)
        waiter.cancel()
        outcomes = await asyncio.gather(occupant, waiter, return_exceptions=True)
        await until_full_capacity(pool, 1)
        return outcomes

    occupied, waited = asyncio.run(scenario())

    np.testing.assert_array_equal(occupied[0], row(2))
    assert isinstance(waited, asyncio.CancelledError), repr(waited)


def test_a_caller_cancelled_during_inference_returns_its_request_when_done(add_one, pools):
    pool = pools(add_one, size=1, max_waiting=0)

    async def scenario():
        started = asyncio.Event()

        async def run():
            started.set()
            return await pool.run({0: row(1)})

        task = asyncio.create_task(run())
        await started.wait()  # the run holds the only request and its job is queued or running
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until_full_capacity(pool, 0)

    asyncio.run(scenario())


def test_allocation_failure_is_reported_as_out_of_memory(core, pools):
    pool = pools(core.compile_model(models.broadcast_zeros(), "CPU", models.F32), label="zeros")

    async def scenario():
        with pytest.raises(InferenceOutOfMemory) as caught:
            await pool.run({0: np.array([1_000_000, 1_000_000], dtype=np.int64)})
        return caught.value

    failure = asyncio.run(scenario())

    assert failure.out_of_memory is True
    # Not the client's fault: the one out-of-memory kind (503 / RESOURCE_EXHAUSTED, 507 on SageMaker), never 400.
    assert isinstance(failure, InsufficientResources) and not isinstance(failure, InvalidInput)
    assert failure.kind == "insufficient_resources" and http_status(failure) == 503
    assert failure.message.startswith("inference failed for this input: out of memory: ")
    assert "Failed to allocate 4000000000000 bytes" in failure.message


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (RuntimeError("[CPU] Broadcast node Check 'ptr' failed: Failed to allocate 4000000000000 bytes of memory"), True),
        (RuntimeError("Exception from src/inference/src/dev/plugin.cpp:54:\nstd::bad_alloc"), True),
        (MemoryError(), True),
        (MemoryError("Unable to allocate 3.64 TiB for an array with shape (1000000, 1000000)"), True),
        (OSError(12, "Cannot allocate memory"), True),
        ("failed to load: cannot compile for CPU: std::bad_alloc", True),
        ("CUDA out of memory", True),
        (RuntimeError("Value -1 not in range [0:18446744073709551615]"), False),
        (ValueError("cannot reshape array of size 6 into shape (4,)"), False),
        ("failed to load: cannot read model.xml: not an IR", False),
        (OSError(2, "No such file or directory"), False),
    ],
)
def test_one_function_decides_what_out_of_memory_is(failure, expected):
    assert is_out_of_memory(failure) is expected


def test_an_ordinary_bad_input_is_not_out_of_memory(core, add_one, pools):
    wrong_shape = pools(add_one)
    negative = pools(core.compile_model(models.broadcast_zeros(), "CPU", models.F32))

    async def scenario():
        failures = []
        for pool, inputs in ((wrong_shape, {0: np.zeros((2, 10), np.float32)}), (negative, {0: np.array([-1, 5], np.int64)})):
            with pytest.raises(InferenceFailed) as caught:
                await pool.run(inputs)
            failures.append(caught.value)
        return failures

    for failure in asyncio.run(scenario()):
        assert failure.out_of_memory is False
        assert failure.message.startswith("inference failed for this input: ")


def test_a_failed_run_gives_its_request_back(add_one, pools):
    pool = pools(add_one, size=1, max_waiting=0)

    async def scenario():
        for _ in range(3):
            with pytest.raises(InferenceFailed):
                await pool.run({0: np.zeros((3, 10), np.float32)})
        return await asyncio.wait_for(pool.run({0: row(4)}), DEADLINE_SECONDS)

    (out,) = asyncio.run(scenario())
    np.testing.assert_array_equal(out, row(5))


def test_close_stops_idle_worker_threads(add_one):
    pool = InferPool(add_one, 3, 4, "closing-idle")
    asyncio.run(pool.run({0: row(0)}))
    assert len(threads_of("closing-idle")) == 3

    pool.close()

    wait_until(lambda: threads_of("closing-idle") == [], "the idle workers to stop")


def test_close_is_idempotent(add_one):
    pool = InferPool(add_one, 2, 4, "closing-twice")

    pool.close()
    pool.close()

    wait_until(lambda: threads_of("closing-twice") == [], "the workers to stop")


def test_close_while_busy_lets_running_and_waiting_runs_finish_first(add_one):
    pool = InferPool(add_one, 1, 8, "closing-busy")  # one request: runs finish one after the other

    async def scenario():
        started = asyncio.Event()

        async def first():
            started.set()
            return await pool.run({0: row(0)})

        runs = [asyncio.create_task(first())] + [asyncio.create_task(pool.run({0: row(n)})) for n in range(1, 5)]
        await started.wait()  # the first run holds the request, the other four wait
        pool.close()
        assert threads_of("closing-busy") == ["ovserve-infer-closing-busy-0"]
        return await asyncio.wait_for(asyncio.gather(*runs), DEADLINE_SECONDS)

    results = asyncio.run(scenario())

    assert [float(out[0][0, 0]) for out in results] == [1.0, 2.0, 3.0, 4.0, 5.0]
    wait_until(lambda: threads_of("closing-busy") == [], "the workers to stop after the last job")


def test_close_while_a_request_is_handed_to_a_waiter_still_serves_that_waiter(add_one):
    """close() runs after a finished run gave its request to a waiter, before the waiter woke up.

    The waiter was accepted before close(), so its run must still complete ("once every running job
    has finished"); the workers may stop only after it.
    """
    pool = InferPool(add_one, 1, 4, "closing-handover")

    async def scenario():
        loop = asyncio.get_running_loop()
        occupant, waiter = await occupant_then_waiter(pool)
        block_until_a_worker_reports(loop)
        loop.call_soon(pool.close)  # runs right after the hand-over, before the waiter resumes
        occupied = await asyncio.wait_for(occupant, DEADLINE_SECONDS)
        try:
            waited = await asyncio.wait_for(waiter, 5)
        except TimeoutError:
            waited = "the waiter's run never completed"
        return occupied, waited

    occupied, waited = asyncio.run(scenario())

    np.testing.assert_array_equal(occupied[0], row(2))
    assert not isinstance(waited, str), waited
    np.testing.assert_array_equal(waited[0], row(3))
    wait_until(lambda: threads_of("closing-handover") == [], "the workers to stop after the last job")


def test_large_inputs_never_run_on_the_event_loop_even_for_a_fast_model():
    """A dynamic model measured fast on small inputs still sends a large input to a worker thread."""
    from ovserve.handler import infer_pool

    compiled = ov.Core().compile_model(models.add_one(shape=(-1, 10)), "CPU", models.F32)
    pool = InferPool(compiled, 1, 4, "dynamic-sizes")
    inline_sizes: list[int] = []
    run_inline = pool._run_inline

    def recording(request, inputs):
        inline_sizes.append(sum(a.nbytes for a in inputs.values()))
        return run_inline(request, inputs)

    pool._run_inline = recording  # instrumentation only: the real inline path still runs
    rows = infer_pool.INLINE_MAX_BYTES // 40 + 1

    async def scenario():
        for _ in range(200):  # measured fast: small requests now run inline
            await pool.run({0: np.zeros((1, 10), np.float32)})
        return await pool.run({0: np.ones((rows, 10), np.float32)})

    try:
        out = asyncio.run(scenario())
    finally:
        pool.close()
    assert out[0].shape == (rows, 10) and float(out[0][0, 0]) == 2.0
    assert inline_sizes and max(inline_sizes) == 40  # small ones inline; the large one went to a worker
