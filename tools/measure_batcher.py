"""In-process figures for the batcher: a lone request's latency with batching off and on, and closed-loop throughput.

Not a test (no timing assertions) and not the transport bench: it measures ``InferPool.run`` against
``Batcher.run`` on the same compiled model, so what it shows is the batcher's own cost and gain.

Usage: .venv/bin/python tools/measure_batcher.py [REPEATS]   (on uvloop when installed, as the server runs)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from ovserve.handler.batcher import Batcher
from ovserve.handler.batching_settings import BatchingSettings
from ovserve.handler.infer_pool import InferPool

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def tiny() -> ov.Model:
    x = ops.parameter([-1, 10], ov.Type.f32, name="x")
    return ov.Model([ops.result(ops.add(x, ops.constant(np.float32(1))))], [x], "tiny")


def dense(width: int = 512, layers: int = 8) -> ov.Model:
    """A few matrix products per row: a fraction of a millisecond per row, worker-thread inference."""
    x = ops.parameter([-1, width], ov.Type.f32, name="x")
    y = x
    rng = np.random.default_rng(0)
    for _ in range(layers):
        w = ops.constant((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32))
        y = ops.relu(ops.matmul(y, w, False, False))
    return ov.Model([ops.result(y)], [x], "dense")


async def lone(runs: dict, row: np.ndarray, repeats: int, block: int = 100) -> dict[str, tuple[float, float]]:
    """Median and p90 (microseconds) of one request at a time, per way of running; the ways take turns in
    blocks of ``block`` requests so that machine noise (this host has 2 CPUs, shared) falls on all of them."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        for _ in range(50):
            await run({0: row})
    for _ in range(max(1, repeats // block)):
        for name, run in runs.items():
            for _ in range(block):
                began = time.perf_counter()
                await run({0: row})
                times[name].append((time.perf_counter() - began) * 1e6)
    result = {}
    for name, values in times.items():
        values.sort()
        result[name] = (statistics.median(values), values[int(len(values) * 0.9)])
    return result


async def closed_loop(run, row: np.ndarray, clients: int, seconds: float) -> float:
    """Requests per second with ``clients`` callers each sending the next request as soon as the last returns."""
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await run({0: row})
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - began)


class InstantPool:
    """A pool whose inference takes no time: what is left is the batcher's own cost."""

    size = 2

    async def run(self, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        return (inputs[0],)

    def close(self) -> None:
        pass


async def main(repeats: int) -> None:
    core = ov.Core()
    instant = InstantPool()
    own = Batcher(instant, tiny(), BatchingSettings())
    figures = await lone({"off": instant.run, "on": own.run}, np.ones((1, 10), np.float32), repeats * 10)
    print("instant pool (the batcher's own cost): lone request median / p90 in us: "
          + "; ".join(f"{way} {m:.1f} / {p:.1f}" for way, (m, p) in figures.items()))
    for name, model, width in (("tiny [-1,10] add", tiny(), 10), ("dense 8x512 matmul", dense(), 512)):
        compiled = core.compile_model(model, "CPU", {**F32, "PERFORMANCE_HINT": "THROUGHPUT"})
        size = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        row = np.ones((1, width), np.float32)
        pool = InferPool(compiled, size, 1024, f"measure-{name}")
        batchers = {t: Batcher(pool, compiled, BatchingSettings(batch_timeout_micros=t, max_enqueued_batches=1024))
                    for t in (0, 1000, 10_000)}
        ways = {"off": pool.run, **{f"on {t} us": b.run for t, b in batchers.items()}}
        figures = await lone(ways, row, repeats)
        print(f"{name}, nireq {size}: lone request median / p90 in us: "
              + "; ".join(f"{way} {m:.1f} / {p:.1f}" for way, (m, p) in figures.items()))
        for clients in (1, 8, 32):
            plain = await closed_loop(pool.run, row, clients, 2.0)
            merged = await closed_loop(batchers[1000].run, row, clients, 2.0)
            stats = batchers[1000].stats
            print(f"    {clients} clients: {plain:.0f} req/s off, {merged:.0f} req/s on (1000 us); "
                  f"{stats.requests / max(stats.inferences, 1):.1f} requests per inference so far")
        for batcher in batchers.values():
            batcher.close()


if __name__ == "__main__":
    try:  # the server's loop (server/process.py): uvloop when installed
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
