"""Moving large decodes and encodes off the event loop, leaving small ones where they are cheapest.

Parsing a 2.9 MB JSON body holds the loop for about 5 ms, and a 20 MB one for
tens of milliseconds: every other connection (liveness probes included) waits
that long. Work whose size is at least ``OFFLOAD_AT_BYTES`` runs on a daemon
worker thread instead (a daemon, so SIGTERM never waits for it; see
``daemon_threads``). Python switches threads every
``sys.getswitchinterval()`` (5 ms) between bytecodes, so work done in Python
steps lets the loop in within that; a single C call that holds the GIL
(pysimdjson's parse of a whole body, one ``orjson.dumps``) still blocks it
for its full length, which is why answers are encoded in slices
(``codecs.chunked_json``) and why bench/RESULTS.md reports the parse of one
body as the remaining stall. Below the threshold a thread hop (tens of
microseconds) would cost more than the work, so it runs inline.

One worker thread does this work, on purpose. Decoding and encoding hold
the GIL almost throughout, so a second worker adds no throughput; what it
adds is a second long C call that can take the GIL straight after the first
while the loop still waits, and it shares the GIL between two large requests
instead of finishing one first. Measured in one interleaved run of
bench.loop_responsiveness (19 MB JSON bodies on 2 connections, 5 repeats):
``/v2/health/live`` p99 95 ms with one worker, 112 ms with two, for 5.3
against 5.6 large bodies a second (this machine's run-to-run noise is about
10 %). A flood of large bodies queues here (first come, first served)
instead of each holding its decoded copy at once.

The work runs in a copy of the caller's context (``contextvars``), so a line it
logs carries the request's id (``request_context``) as a line on the loop would.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

from .daemon_threads import hand_back, outcome

T = TypeVar("T")

# At this size a decode or encode takes about 0.5 ms: worth a thread hop, and far below what stalls a probe.
OFFLOAD_AT_BYTES = 256 * 1024
WORKERS = 1  # see the module docstring: more threads only chain GIL holds
# Raw tensor bytes (gRPC raw contents, TF Serving tensor_content, v2 binary data) are viewed in place, or copied at
# memory speed, never parsed: 4 MB of them cost about what 256 KB of JSON does, so they count at a sixteenth. A
# hop for a 600 KB ResNet-50 input cost more than the work it moved (bench/RESULTS.md, 2026-12-01).
RAW_BYTES_PER_WORK_BYTE = 16

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_started = 0
_start_lock = threading.Lock()


def _work() -> None:
    while True:
        work, loop, future = _jobs.get()
        hand_back(loop, future, *outcome(work))
        del work, future  # drop large results now, not when the next job arrives


def _ensure_workers() -> None:
    global _started
    if _started:
        return
    with _start_lock:
        while _started < WORKERS:
            threading.Thread(target=_work, name=f"ovserve-codec-{_started}", daemon=True).start()
            _started += 1


def raw_work(nbytes: int) -> int:
    """What ``nbytes`` of raw tensor data weigh against ``OFFLOAD_AT_BYTES``."""
    return nbytes // RAW_BYTES_PER_WORK_BYTE


async def on_worker(work: Callable[[], T]) -> T:
    """Run ``work`` on a codec worker thread and return (or raise) what it did."""
    _ensure_workers()
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()
    context = contextvars.copy_context()
    _jobs.put((lambda: context.run(work), loop, future))
    return await future


async def sized(size: int, work: Callable[[], T]) -> T:
    """``work()`` inline when ``size`` (bytes it decodes or produces) is small, else on a worker thread."""
    if size < OFFLOAD_AT_BYTES:
        return work()
    return await on_worker(work)
