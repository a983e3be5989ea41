"""run_in_daemon_thread: results and errors reach the awaiting coroutine; the work runs on a daemon thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ovserve.handler.daemon_threads import run_in_daemon_thread

DEADLINE_SECONDS = 10


def within_deadline(awaitable):
    """A bound on how long a test may wait: a hang fails the test instead of stalling the run."""
    return asyncio.wait_for(awaitable, DEADLINE_SECONDS)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_the_result_is_delivered():
    async def scenario():
        return await within_deadline(run_in_daemon_thread(lambda: {"answer": 42}))

    assert asyncio.run(scenario()) == {"answer": 42}


def test_none_is_a_result_too():
    async def scenario():
        return await within_deadline(run_in_daemon_thread(lambda: None))

    assert asyncio.run(scenario()) is None


def test_the_exception_is_delivered_as_raised():
    problem = ValueError("cannot read model.xml")

    def work():
        raise problem

    async def scenario():
        with pytest.raises(ValueError) as caught:
            await within_deadline(run_in_daemon_thread(work))
        return caught.value

    assert asyncio.run(scenario()) is problem


async def outcome_of(work, seconds: float = DEADLINE_SECONDS):
    """What awaiting ``work`` in a daemon thread produced: its exception, or a note saying what went wrong."""
    try:
        await asyncio.wait_for(run_in_daemon_thread(work), seconds)
    except TimeoutError:
        return "the awaiting coroutine was never woken"
    except BaseException as exc:  # whatever arrives is what the test checks
        return exc
    return "no exception"


@pytest.mark.parametrize("exception", [KeyError("k"), OSError(2, "gone"), RuntimeError("boom"), SystemExit(3)])
def test_other_exceptions_are_delivered_as_raised(exception):
    def work():
        raise exception

    assert asyncio.run(outcome_of(work)) is exception


def test_stop_iteration_from_the_work_is_delivered():
    """``next()`` on an exhausted iterator inside the work is an ordinary failure the caller must see."""

    def work():
        return next(iter([]))

    outcome = asyncio.run(outcome_of(work, seconds=3))

    assert isinstance(outcome, StopIteration | RuntimeError), outcome


def test_the_work_runs_on_a_named_daemon_thread():
    seen: dict = {}

    def work():
        thread = threading.current_thread()
        seen.update(name=thread.name, daemon=thread.daemon, ident=thread.ident)
        return "done"

    async def scenario():
        loop_thread = threading.get_ident()
        result = await within_deadline(run_in_daemon_thread(work, name="ovserve-test-daemon"))
        return result, loop_thread

    result, loop_thread = asyncio.run(scenario())
    assert result == "done"
    assert seen["daemon"] is True
    assert seen["name"] == "ovserve-test-daemon"
    assert seen["ident"] != loop_thread


def test_the_default_thread_name():
    async def scenario():
        return await within_deadline(run_in_daemon_thread(lambda: threading.current_thread().name))

    assert asyncio.run(scenario()) == "ovserve-work"


def test_the_loop_keeps_running_while_the_work_blocks():
    release = threading.Event()

    def work():
        assert release.wait(DEADLINE_SECONDS)
        return "released"

    async def scenario():
        pending = run_in_daemon_thread(work)
        deadline = time.monotonic() + DEADLINE_SECONDS
        turns = 0
        while not pending.done():  # this coroutine gets turns while the thread blocks
            assert time.monotonic() < deadline, "the work never finished"
            turns += 1
            if turns == 3:
                release.set()
            await asyncio.sleep(0)
        return turns, await pending

    turns, result = asyncio.run(scenario())
    assert result == "released"
    assert turns >= 3


def test_concurrent_works_each_get_their_own_result():
    async def scenario():
        futures = [run_in_daemon_thread(lambda n=n: n * n) for n in range(20)]
        return await within_deadline(asyncio.gather(*futures))

    assert asyncio.run(scenario()) == [n * n for n in range(20)]


def test_a_cancelled_future_is_left_alone_when_the_work_finishes():
    release = threading.Event()
    loop_errors: list[dict] = []

    async def scenario():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
        pending = run_in_daemon_thread(lambda: release.wait(DEADLINE_SECONDS), name="ovserve-test-cancelled")
        (worker,) = [t for t in threading.enumerate() if t.name == "ovserve-test-cancelled"]
        pending.cancel()
        release.set()
        worker.join(DEADLINE_SECONDS)  # the thread has queued its late result on the loop
        assert not worker.is_alive()
        after_it = loop.create_future()
        loop.call_soon(after_it.set_result, None)  # queued behind the late result, so that one runs first
        await after_it
        return pending.cancelled()

    assert asyncio.run(scenario()) is True
    assert loop_errors == []


def test_work_that_outlives_its_loop_ends_quietly():
    release = threading.Event()
    crashes: list = []
    previous_hook = threading.excepthook
    threading.excepthook = crashes.append
    try:

        async def scenario():
            run_in_daemon_thread(lambda: release.wait(DEADLINE_SECONDS), name="ovserve-test-outlives")

        asyncio.run(scenario())  # the loop is closed while the work still runs
        (worker,) = [t for t in threading.enumerate() if t.name == "ovserve-test-outlives"]
        assert worker.daemon
        release.set()
        worker.join(DEADLINE_SECONDS)
        assert not worker.is_alive()
    finally:
        threading.excepthook = previous_hook
    assert crashes == []
