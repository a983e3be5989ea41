"""The limit: in-process OpenVINO on the same model, same properties, same run.

A synchronous loop (one request at a time) and an AsyncInferQueue with
``jobs`` requests in flight; each reports req/s, p50 and p99.
"""

from __future__ import annotations

import time

import numpy as np
import openvino as ov

from .stats import Point, summarize


def compile_model(path: str, properties: dict) -> ov.CompiledModel:
    return ov.Core().compile_model(path, "CPU", properties)


def sync_loop(compiled: ov.CompiledModel, inputs: dict, seconds: float) -> Point:
    request = compiled.create_infer_request()
    request.infer(inputs)
    latencies = []
    end = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        begin = time.perf_counter()
        request.infer(inputs)
        latencies.append(time.perf_counter() - begin)
    return summarize(latencies, time.perf_counter() - started)


def async_queue(compiled: ov.CompiledModel, inputs: dict, seconds: float, jobs: int) -> Point:
    queue = ov.AsyncInferQueue(compiled, jobs)
    latencies: list[float] = []
    queue.set_callback(lambda request, begin: latencies.append(time.perf_counter() - begin))
    for _ in range(jobs):  # warm every request once
        queue.start_async(inputs, time.perf_counter())
    queue.wait_all()
    latencies.clear()
    end = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        queue.start_async(inputs, time.perf_counter())  # blocks while all requests are busy
    queue.wait_all()
    return summarize(latencies, time.perf_counter() - started)


def random_input(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).random(shape, dtype=np.float32)
