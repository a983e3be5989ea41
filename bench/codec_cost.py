"""What the REST JSON codec costs per request for a 1x3x224x224 float input, measured in-process."""

from __future__ import annotations

import time

import numpy as np

from ovserve.handler.codecs import tfs_json
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME

from .stats import Point, summarize

IMAGE = Signature(
    inputs=(TensorSpec("image", 0, BY_OV_NAME["f32"], (1, 3, 224, 224)),),
    outputs=(TensorSpec("probabilities", 0, BY_OV_NAME["f32"], (1, 1000)),),
)


def measure(body: bytes, outputs: dict[str, np.ndarray], seconds: float) -> tuple[Point, Point]:
    """(decode: parse + arrays, encode) latencies."""
    decode: list[float] = []
    encode: list[float] = []
    end = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        begin = time.perf_counter()
        parsed = tfs_json.parse_predict(body)
        parsed.arrays(IMAGE)
        middle = time.perf_counter()
        tfs_json.encode_predict(outputs, parsed.form)
        decode.append(middle - begin)
        encode.append(time.perf_counter() - middle)
    elapsed = time.perf_counter() - started
    return summarize(decode, elapsed), summarize(encode, elapsed)
