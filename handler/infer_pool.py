"""A bounded pool of OpenVINO infer requests, awaited from the event loop.

Each request runs ``InferRequest.infer`` on a daemon worker thread (OpenVINO
releases the GIL while it computes), except for models measured to infer
in under ``INLINE_BELOW_SECONDS``: those run on the event loop itself, which
is cheaper than the thread hop and blocks the loop for less than that. ``start_async`` callbacks were the
obvious alternative, but OpenVINO never calls them when inference fails, so a
failed request would hang forever; a worker thread reports success and failure
alike. A request goes back to the pool only when its thread is done with it,
even if the client that asked has gone. At most ``max_waiting`` callers wait
for a free request; beyond that the caller gets ``Overloaded`` at once.

With metrics on, the pool's ``meter`` times OpenVINO's infer calls
(``ovms_inference_time_us``) and each caller's wait for a free request
(``ovms_wait_for_infer_req_time_us``, 0 when one was idle), both on the event
loop's thread: a worker thread measures its call and hands the time back
with the result.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InsufficientResources, InvalidInput, NotReady, Overloaded, OvserveError, is_out_of_memory
from .infer_call import InferCall
from .reshape import short_reason

if TYPE_CHECKING:
    from .metrics import Meter

# Below this measured inference time, handing the work to a thread costs more than doing it on the
# event loop (a wake-up and a callback are tens of microseconds); the loop is blocked for less than this.
INLINE_BELOW_SECONDS = 0.0002
# ...and only for small inputs: a model with dynamic dimensions that was fast on small requests may be slow
# on a large one, which must not run on the loop.
INLINE_MAX_BYTES = 64 * 1024


class InferenceFailed(InvalidInput):
    """OpenVINO refused this input at run time (a 400: the input is what it could not take)."""

    out_of_memory = False

    def __init__(self, reason: str) -> None:
        super().__init__(f"inference failed for this input: {reason}")


class InferenceOutOfMemory(InsufficientResources):
    """Memory ran out while inferring: not the client's fault, and the compiled model needs renewing.

    After a failed allocation the CPU plugin keeps answering later, valid
    requests of an earlier shape with the same error (seen with OpenVINO
    2026.4), so the owner recompiles before serving again.
    """

    out_of_memory = True

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"inference failed for this input: out of memory: {reason}; retry with a smaller input or when more memory is free"
        )


def inference_failure(exc: BaseException) -> OvserveError:
    """What a failed ``InferRequest.infer`` means for the caller: out of memory, or an input OpenVINO refused."""
    reason = short_reason(exc)
    return InferenceOutOfMemory(reason) if is_out_of_memory(exc) else InferenceFailed(reason)


class InferPool:
    """``size`` infer requests of one compiled model, each with its own worker thread."""

    def __init__(self, compiled: Any, size: int, max_waiting: int, label: str, meter: Meter | None = None) -> None:
        """``meter``: the version's metrics (``metrics.version_meter``), None while metrics are off."""
        self._label = label
        self._meter = meter
        self._max_waiting = max_waiting
        self._requests = [InferCall(compiled.create_infer_request(), compiled) for _ in range(size)]
        self._idle: deque[Any] = deque(self._requests)
        self._waiters: deque[asyncio.Future] = deque()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0  # requests handed out (running, or passed to a waiter) and not yet back
        self._seconds_per_infer = 1.0  # until measured, assume slow: worker threads
        self._closed = False
        self._stopped = False
        for number in range(size):
            threading.Thread(target=self._work, name=f"ovserve-infer-{label}-{number}", daemon=True).start()

    @property
    def size(self) -> int:
        return len(self._requests)

    @property
    def busy(self) -> int:
        """Infer requests in use: running, or handed to a caller about to run (``ovms_infer_req_active``)."""
        return self._busy

    @property
    def meter(self) -> Meter | None:
        """The version's metrics, for the batcher in front of this pool to report batch sizes to."""
        return self._meter

    async def run(self, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Infer ``inputs`` (port index -> array); outputs come back in port order, copied."""
        if self._stopped:
            raise NotReady(f"{self._label} is being replaced; retry the request")
        request = await self._acquire()
        if self._seconds_per_infer < INLINE_BELOW_SECONDS and sum(a.nbytes for a in inputs.values()) <= INLINE_MAX_BYTES:
            return self._run_inline(request, inputs)
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        self._jobs.put((request, inputs, loop, done))
        outputs, error = await asyncio.shield(done)
        if error is not None:
            raise inference_failure(error)
        return outputs

    def _run_inline(self, request: Any, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Infer on the event loop (only for models measured faster than a thread hop)."""
        began = time.perf_counter()
        try:
            outputs = request(inputs)
            self._observe(time.perf_counter() - began)
            return outputs
        except Exception as exc:
            raise inference_failure(exc) from None
        finally:
            if self._meter is not None:
                self._meter.inference.observe((time.perf_counter() - began) * 1e6)
            self._release(request)

    def _observe(self, seconds: float) -> None:
        """Moving average of inference time; it decides between inline and worker-thread inference."""
        self._seconds_per_infer += (seconds - self._seconds_per_infer) * 0.1

    async def _acquire(self) -> Any:
        """A request for the caller; ``_busy`` counts it from this moment until ``_release``."""
        if self._idle:
            self._busy += 1
            if self._meter is not None:
                self._meter.wait.observe(0)
            return self._idle.popleft()
        if len(self._waiters) >= self._max_waiting:
            raise Overloaded(
                f"{self._label}: {len(self._waiters)} requests already wait for one of {self.size} "
                "inference slots; retry later or raise --max_queued_requests / --nireq"
            )
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        began = time.perf_counter()
        try:
            request = await waiter
            if self._meter is not None:
                self._meter.wait.observe((time.perf_counter() - began) * 1e6)
            return request
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as the caller gave up
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self, request: Any) -> None:
        """Hand ``request`` to the next live waiter (still busy), or back to the idle list."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(request)
                return
        self._idle.append(request)
        self._busy -= 1
        self._stop_if_drained()

    def _finished(
        self, request: Any, done: asyncio.Future, outputs: Any, error: BaseException | None, seconds: float
    ) -> None:
        if error is None:
            self._observe(seconds)
        if self._meter is not None:
            self._meter.inference.observe(seconds * 1e6)
        if not done.done():
            done.set_result((outputs, error))
        self._release(request)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            request, inputs, loop, done = job
            outputs, error = None, None
            began = time.perf_counter()
            try:
                outputs = request(inputs)
            except Exception as exc:  # reported to the caller (see inference_failure)
                error = exc
            try:
                loop.call_soon_threadsafe(self._finished, request, done, outputs, error, time.perf_counter() - began)
            except RuntimeError:  # loop closed during shutdown
                return
            # Hold nothing while idle: a lingering reference would keep the compiled model alive after unload.
            del job, request, inputs, outputs, error

    def close(self) -> None:
        """Stop the worker threads once every running job has finished."""
        self._closed = True
        self._stop_if_drained()

    def _stop_if_drained(self) -> None:
        if self._closed and not self._stopped and self._busy == 0 and not self._waiters:
            self._stopped = True
            for _ in self._requests:
                self._jobs.put(None)
            # Drop the infer requests now: they hold the compiled model (and its weights) alive.
            self._idle.clear()
            self._requests = []
