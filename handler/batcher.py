"""Dynamic batching for one model version: concurrent requests merged into one inference.

Every inference pays a fixed cost (a thread hand-off, OpenVINO's request set-up,
a stream sync) that a batch pays once. ``Batcher.run`` is a drop-in for
``InferPool.run``: requests whose inputs match in every dimension but the batch
dimension (and in element type) are concatenated along it, run as one
inference, and each gets back its own rows of every output.

The batch dimension is axis 0 of every input and output. A model whose ports do
not all carry it there is refused at start-up (``batching_problem``).

When a batch runs (the rule README states): as soon as an infer request is free
and one of these holds:

* nothing of this version is inferring (the model is idle): whatever is queued
  runs now, so a lone request on an idle model never waits for the window;
* the batch is full (``max_batch_size`` rows, or the next request would not fit);
* its oldest request has waited ``batch_timeout_micros``.

Waiting only pays while an inference runs: requests that arrive meanwhile form
the next batch instead of each taking a request of its own. "Queued now" means
queued in the same event-loop turn: on an idle model the first request yields
once to the loop before deciding, so requests decoded in the same turn join it
(without that, a model fast enough to run inline on the loop would never merge
anything). A request still alone then runs on its caller's own task, with no
hand-off: the batcher adds about 5 µs of its own to a lone request and never
the window (tools/measure_batcher.py).

Padding: a model with a fixed batch N gets every batch (and any smaller request)
padded up to N; ``allowed_batch_sizes`` pads to the next allowed size. Padding
rows repeat the last real row, as ``records.py`` pads record chunks: a row that
passed validation is an input the model is known to take, where zeros might not
be (an index of 0, a division); the rows cost the same and their outputs are dropped.

Failures: requests were validated before they joined, so a failure is the
batch's: out of memory, a model being replaced, or a bad output shape fails
every request of that batch with the same error. The exception is
``InferenceFailed`` (OpenVINO refusing the *values* of a merged batch): then
each request is run again on its own and gets its own answer or error, so one
request's bad values never fail the others (the retries run one after another
on the batch's slot, only on that failure path).

Other rules: different non-batch shapes go to different batches (never an error);
a request larger than ``max_batch_size`` runs on its own, unpadded; a request
cancelled while queued leaves its batch, which still runs for the others; when
``max_enqueued_batches`` batches already wait, one more request that needs a
new batch is ``Overloaded`` (503 / RESOURCE_EXHAUSTED), as the pool's own queue is.
Concatenation of large inputs runs on the codec worker thread, weighed as raw bytes
(``offload.raw_work``: a memory copy, 4 MB of it costs what 256 KB of JSON does), never long on the loop.
Outputs are views of the merged output (which ``InferPool`` has copied): they stay valid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import offload
from .batch_shapes import BATCH_AXIS, BatchLimits, batching_problem, ports, validation_signature
from .batching_settings import BatchingSettings
from .errors import InternalError, NotReady, Overloaded
from .infer_pool import InferenceFailed
from .signature import Signature

log = logging.getLogger("ovserve.batcher")

__all__ = ["BATCH_AXIS", "BatchStats", "Batcher", "batching_problem", "validation_signature"]

# After this many leads in a row found no company, a lone request stops paying a loop turn for it...
LONE_LEADS_BEFORE_SKIPPING = 8
# ...except every PROBE_EVERY-th, which still looks (and turns waiting back on when it finds someone).
PROBE_EVERY = 16
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution  # asyncio fires timers this early


@dataclass
class BatchStats:
    """Debug counters (tests; future metrics). ``inferences < requests`` means requests were merged."""

    requests: int = 0  # requests that joined a batch
    inferences: int = 0  # inferences run, retries alone included
    merged_requests: int = 0  # requests that shared their inference with at least one other
    padded_rows: int = 0  # rows added to reach a fixed or allowed batch size
    largest_batch: int = 0  # rows of the largest inference, padding included
    retried_alone: int = 0  # requests run again on their own after their merged batch's values were refused
    waited_turns: int = 0  # leads on an idle model that yielded a loop turn for company


class _Entry:
    __slots__ = ("inputs", "rows", "future", "batch")

    def __init__(self, inputs: dict[int, np.ndarray], rows: int, future: asyncio.Future) -> None:
        self.inputs = inputs
        self.rows = rows
        self.future = future
        self.batch: _Batch | None = None


class _Batch:
    __slots__ = ("key", "entries", "rows", "since", "closed", "launched", "solo")

    def __init__(self, key: tuple, since: float, solo: bool) -> None:
        self.key = key
        self.entries: list[_Entry] = []
        self.rows = 0
        self.since = since  # loop time the first request joined
        self.closed = solo  # nothing more may join: ready to run once a request is free
        self.launched = False
        self.solo = solo  # one request that cannot be merged (too large, inconsistent rows): run as it is


def _rows(inputs: dict[int, np.ndarray]) -> int | None:
    """The request's shared batch size, or None when its inputs disagree (such a request runs alone)."""
    if len(inputs) == 1:  # the common case, on every request's path
        (array,) = inputs.values()
        return array.shape[BATCH_AXIS] if array.ndim else None
    counts = {array.shape[BATCH_AXIS] if array.ndim else None for array in inputs.values()}
    return counts.pop() if len(counts) == 1 else None


def _key(inputs: dict[int, np.ndarray]) -> tuple:
    """What must match for two requests to merge: per input, element type and the non-batch dimensions."""
    return tuple(
        (index, array.dtype.kind if array.dtype.kind in "SU" else array.dtype.str, array.shape[1:])
        for index, array in (inputs.items() if len(inputs) == 1 else sorted(inputs.items()))
    )


def _assemble(entries: list[_Entry], size: int) -> dict[int, np.ndarray]:
    """The entries' inputs concatenated along the batch axis, padded to ``size`` rows with copies of the last row."""
    rows = sum(entry.rows for entry in entries)
    merged = {}
    for index in entries[0].inputs:
        parts = [entry.inputs[index] for entry in entries]
        if size > rows:
            parts.append(np.repeat(parts[-1][-1:], size - rows, axis=BATCH_AXIS))
        merged[index] = np.concatenate(parts, axis=BATCH_AXIS)
    return merged


class Batcher:
    """Merges concurrent ``run`` calls for one version's ``InferPool`` (see the module docstring for the rules)."""

    def __init__(self, pool: Any, signature: Signature | Any, settings: BatchingSettings, label: str = "model",
                 meter: Any = None) -> None:
        """``signature``: the version's ``Signature`` (or its compiled model); check ``batching_problem`` first.

        ``meter``: the version's metrics (``handler.metrics.Meter``), told each inference's requests and rows; None when off.

        Safe to build off the event loop (model loads run on a thread): the loop is taken at the first ``run``.
        """
        self._pool = pool
        self._settings = settings
        self._label = label
        self._limits = BatchLimits.of(ports(signature)[0], settings)
        self._timeout = settings.timeout_seconds
        self._concurrency = max(1, min(pool.size, settings.num_batch_threads or pool.size))
        self._waiting: list[_Batch] = []  # oldest first
        self._open: dict[tuple, _Batch] = {}  # per key, the batch new requests may still join
        self._in_flight = 0
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._kicked = False
        self._lone_leads = 0  # leads in a row whose turn found no company (see _lead)
        self._closing = False
        self._stopped = False
        self.stats = BatchStats()
        self._meter = meter
        log.info("dynamic batching on", extra={
            "model": label, "max_batch_size": self._limits.max_rows, "batch_timeout_micros": settings.batch_timeout_micros,
            "max_enqueued_batches": settings.max_enqueued_batches, "concurrent_batches": self._concurrency,
            "fixed_batch": self._limits.fixed, "allowed_batch_sizes": list(self._limits.allowed)})

    @property
    def size(self) -> int:
        """How many inferences can run at once (the pool's), so callers that read ``pool.size`` keep working."""
        return self._pool.size

    @property
    def max_rows(self) -> int:
        """The most rows one merged inference holds (``max_batch_size``, or the model's fixed or largest batch)."""
        return self._limits.max_rows

    async def run(self, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Infer ``inputs`` (port index -> array, validated) in a batch with others; outputs in port order."""
        if self._stopped:
            raise NotReady(f"{self._label} is being replaced; retry the request")
        loop = self._loop = self._loop or asyncio.get_running_loop()
        rows = _rows(inputs)
        entry = _Entry(inputs, rows or 0, loop.create_future())
        batch = self._enqueue(entry, rows is not None and 1 <= rows <= self._limits.max_rows)
        if self._in_flight == 0 and not self._kicked and not self._closing:
            return await self._lead(entry, batch)
        self._lone_leads = 0  # company: requests arrive while others run or wait
        self._kick()
        return await self._wait(entry)

    async def _wait(self, entry: _Entry) -> tuple[np.ndarray, ...]:
        try:
            return await entry.future
        except asyncio.CancelledError:
            self._withdraw(entry)
            raise

    def _should_wait_a_turn(self) -> bool:
        """Whether a lead on an idle model yields one loop turn for company.

        The turn costs a lone request one trip round the event loop (measured
        +21 % p50 for the tiny model over REST at concurrency 1). After
        ``LONE_LEADS_BEFORE_SKIPPING`` leads in a row found nobody, only every
        ``PROBE_EVERY``-th lead still waits, so a lone client pays it rarely,
        and the first probe that finds company (or any request queued behind a
        running inference) brings waiting back for every lead.
        """
        if self._lone_leads < LONE_LEADS_BEFORE_SKIPPING:
            return True
        return self._lone_leads % PROBE_EVERY == 0

    async def _lead(self, entry: _Entry, batch: _Batch) -> tuple[np.ndarray, ...]:
        """On an idle model the first request decides, one loop turn later, instead of a scheduled callback.

        Requests queued in that turn join its batch (which then runs as a task, as
        every merged batch does); a request still alone runs its inference on its
        own task, with no hand-off: that is what keeps a lone request's latency
        close to the pool's own (tools/measure_batcher.py).
        """
        self._kicked = True  # other arrivals in this turn leave the decision to us
        if self._should_wait_a_turn():
            self.stats.waited_turns += 1
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                self._kicked = False
                self._withdraw(entry)
                self._dispatch()
                raise
        self._kicked = False
        self._lone_leads = self._lone_leads + 1 if batch.entries == [entry] else 0
        if batch.entries == [entry] and not batch.launched and self._in_flight < self._concurrency:
            self._claim(batch)
            if self._waiting:  # other shapes that arrived in the same turn: their window starts now
                self._dispatch()
            try:
                if batch.solo or self._limits.padded(entry.rows) == entry.rows:  # the common case, kept short
                    self.stats.inferences += 1
                    self.stats.largest_batch = max(self.stats.largest_batch, entry.rows)
                    if self._meter is not None:
                        self._meter.observe_batch(1, entry.rows)
                    if log.isEnabledFor(logging.DEBUG):
                        self._log_inference(1, entry.rows, entry.rows)
                    return await self._pool.run(entry.inputs)
                await self._execute(batch)
            finally:
                self._in_flight -= 1
                if self._waiting:
                    self._dispatch()
                if self._closing:
                    self._stop_if_drained()
        else:
            self._dispatch()
        return await self._wait(entry)

    def _enqueue(self, entry: _Entry, mergeable: bool) -> _Batch:
        key = _key(entry.inputs)
        batch = self._open.get(key) if mergeable else None
        if batch is not None and batch.rows + entry.rows > self._limits.max_rows:
            batch.closed = True  # full for this request: it runs as soon as a request is free
            del self._open[key]
            batch = None
        if batch is None:
            if len(self._waiting) >= self._settings.max_enqueued_batches:
                raise Overloaded(
                    f"{self._label}: {len(self._waiting)} batches already wait for one of {self._concurrency} "
                    "inference slots; retry later or raise max_enqueued_batches"
                )
            assert self._loop is not None
            batch = _Batch(key, self._loop.time(), solo=not mergeable)
            self._waiting.append(batch)
            if mergeable:
                self._open[key] = batch
        entry.batch = batch
        batch.entries.append(entry)
        batch.rows += entry.rows
        self.stats.requests += 1
        if batch.rows >= self._limits.max_rows and not batch.closed:
            batch.closed = True
            self._open.pop(key, None)
        return batch

    def _withdraw(self, entry: _Entry) -> None:
        """A caller gave up: its entry leaves a batch that has not started; a started one runs regardless."""
        batch = entry.batch
        if batch is None or batch.launched or entry not in batch.entries:
            return
        batch.entries.remove(entry)
        batch.rows -= entry.rows
        if not batch.entries:
            self._waiting.remove(batch)
            if self._open.get(batch.key) is batch:
                del self._open[batch.key]
            self._stop_if_drained()

    def _kick(self) -> None:
        """Decide one callback from now, so requests queued in this loop turn are decided together."""
        if not self._kicked and self._loop is not None:
            self._kicked = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Launch every batch that is ready while requests are free; arm the timer for the next one to come due."""
        self._kicked = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time() + _CLOCK_RESOLUTION
        while self._in_flight < self._concurrency and self._waiting:
            idle = self._in_flight == 0 or self._closing
            batch = next((b for b in self._waiting if idle or b.closed or now >= b.since + self._timeout), None)
            if batch is None:
                break
            self._launch(batch)
        if self._waiting and self._in_flight < self._concurrency:
            self._timer = loop.call_at(min(b.since for b in self._waiting) + self._timeout, self._dispatch)

    def _claim(self, batch: _Batch) -> None:
        """``batch`` leaves the queue and counts as running."""
        self._waiting.remove(batch)
        if self._open.get(batch.key) is batch:
            del self._open[batch.key]
        batch.launched = True
        self._in_flight += 1

    def _launch(self, batch: _Batch) -> None:
        assert self._loop is not None
        self._claim(batch)
        task = self._loop.create_task(self._execute(batch))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        self._dispatch()
        self._stop_if_drained()

    async def _execute(self, batch: _Batch) -> None:
        """Run one batch; every entry's future ends with its rows or an error (see the module docstring)."""
        live = [entry for entry in batch.entries if not entry.future.done()]  # cancelled since launch: dropped
        if not live:
            return
        try:
            await self._infer(live, pad=not batch.solo)
        except InferenceFailed as exc:
            if len(live) == 1:
                _fail(live, exc)
                return
            log.warning("a merged batch was refused; running its requests one by one", extra={
                "model": self._label, "requests": len(live), "reason": exc.message})
            for entry in live:
                if entry.future.done():
                    continue
                self.stats.retried_alone += 1
                try:
                    await self._infer([entry], pad=True)
                except Exception as alone:  # this request's own failure
                    _fail([entry], alone)
        except asyncio.CancelledError:
            for entry in live:
                entry.future.cancel()
            raise
        except Exception as exc:  # the batch's failure: everyone in it gets the same error
            _fail(live, exc)

    async def _infer(self, entries: list[_Entry], pad: bool) -> None:
        rows = sum(entry.rows for entry in entries)
        size = self._limits.padded(rows) if pad else rows
        stats = self.stats
        stats.inferences += 1
        stats.padded_rows += size - rows
        stats.largest_batch = max(stats.largest_batch, size)
        if self._meter is not None:
            self._meter.observe_batch(len(entries), size)
        if len(entries) > 1:
            stats.merged_requests += len(entries)
        if log.isEnabledFor(logging.DEBUG):
            self._log_inference(len(entries), rows, size)
        if len(entries) == 1 and size == rows:
            only = entries[0]
            outputs = await self._pool.run(only.inputs)
            if not only.future.done():
                only.future.set_result(outputs)
            return
        nbytes = sum(array.nbytes for entry in entries for array in entry.inputs.values()) * size // max(rows, 1)
        merged = await offload.sized(offload.raw_work(nbytes), lambda: _assemble(entries, size))
        outputs = await self._pool.run(merged)
        for index, output in enumerate(outputs):
            if output.ndim == 0 or output.shape[BATCH_AXIS] != size:
                raise InternalError(
                    f"{self._label}: output {index} has shape {list(output.shape)} for a batch of {size} rows, "
                    "so its rows cannot be handed back per request; turn batching off for this model"
                )
        start = 0
        for entry in entries:
            stop = start + entry.rows
            if not entry.future.done():
                entry.future.set_result(tuple(output[start:stop] for output in outputs))
            start = stop

    def _log_inference(self, requests: int, rows: int, size: int) -> None:
        """One DEBUG line per inference: how to see merging from outside the process (``--log_level DEBUG``).

        A log line rather than an API field: no client-visible answer changes, and
        nothing is paid unless DEBUG is on (the callers check the level first).
        """
        log.debug("batch inferred", extra={"model": self._label, "requests": requests, "rows": rows,
                                           "padded_rows": size - rows, "inferences": self.stats.inferences})

    def close(self) -> None:
        """Run what is queued without waiting for timers, then close the pool; ``run`` refuses once drained."""
        self._closing = True
        if self._waiting:
            self._kick()
        self._stop_if_drained()

    def _stop_if_drained(self) -> None:
        if self._closing and not self._stopped and self._in_flight == 0 and not self._waiting:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pool.close()


def _fail(entries: list[_Entry], exc: BaseException) -> None:
    for entry in entries:
        if not entry.future.done():
            entry.future.set_exception(exc)
