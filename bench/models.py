"""Benchmark models, generated (never downloaded): a tiny Add and a ResNet-50-shaped network.

The ResNet-50 shape follows the published architecture (7x7 stem, bottleneck
stages of 3, 4, 6 and 3 blocks, widths 64-512 with 4x expansion, 1000-way
classifier: about 4 GMAC at 224x224) with seeded random weights; what it
predicts is meaningless, how long it takes is what matters.
Usage: python bench/models.py OUT_DIR   -> OUT_DIR/tiny/1/model.xml, OUT_DIR/resnet50/1/model.xml
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def tiny() -> ov.Model:
    x = ops.parameter([1, 10], ov.Type.f32, name="x")
    y = ops.add(x, ops.constant(np.ones((1, 10), np.float32)))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "tiny")


class _Weights:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def conv(self, out_channels: int, in_channels: int, size: int) -> ov.Node:
        scale = np.sqrt(2.0 / (in_channels * size * size))
        return ops.constant((self.rng.standard_normal((out_channels, in_channels, size, size)) * scale).astype(np.float32))

    def bias(self, channels: int) -> ov.Node:
        return ops.constant(np.zeros((1, channels, 1, 1), np.float32))


def _conv(w: _Weights, x: ov.Node, in_ch: int, out_ch: int, size: int, stride: int, relu: bool = True) -> ov.Node:
    pad = size // 2
    y = ops.convolution(x, w.conv(out_ch, in_ch, size), [stride, stride], [pad, pad], [pad, pad], [1, 1])
    y = ops.add(y, w.bias(out_ch))  # batch norm folded into a bias, as converted models have it
    return ops.relu(y) if relu else y


def _bottleneck(w: _Weights, x: ov.Node, in_ch: int, width: int, stride: int) -> ov.Node:
    out_ch = width * 4
    y = _conv(w, x, in_ch, width, 1, 1)
    y = _conv(w, y, width, width, 3, stride)
    y = _conv(w, y, width, out_ch, 1, 1, relu=False)
    shortcut = x if (stride == 1 and in_ch == out_ch) else _conv(w, x, in_ch, out_ch, 1, stride, relu=False)
    return ops.relu(ops.add(y, shortcut))


def resnet50(batch: int = 1, seed: int = 50) -> ov.Model:
    w = _Weights(seed)
    image = ops.parameter([batch, 3, 224, 224], ov.Type.f32, name="image")
    x = _conv(w, image, 3, 64, 7, 2)
    x = ops.max_pool(x, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3]).output(0)
    channels = 64
    for blocks, width, stride in ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)):
        for index in range(blocks):
            x = _bottleneck(w, x, channels, width, stride if index == 0 else 1)
            channels = width * 4
    pooled = ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    fc = ops.matmul(pooled, ops.constant((w.rng.standard_normal((channels, 1000)) * 0.01).astype(np.float32)), False, False)
    probabilities = ops.softmax(fc, 1)
    probabilities.output(0).set_names({"probabilities"})
    return ov.Model([ops.result(probabilities)], [image], "resnet50_shaped")


def _depthwise(w: _Weights, x: ov.Node, channels: int, stride: int) -> ov.Node:
    """3x3 depthwise convolution (one filter per channel: a group convolution with ``channels`` groups) + bias + ReLU."""
    scale = np.sqrt(2.0 / 9)
    weights = ops.constant((w.rng.standard_normal((channels, 1, 1, 3, 3)) * scale).astype(np.float32))
    y = ops.group_convolution(x, weights, [stride, stride], [1, 1], [1, 1], [1, 1])
    return ops.relu(ops.add(y, w.bias(channels)))


def mobilenet(batch: int = -1, seed: int = 1) -> ov.Model:
    """MobileNet v1's shape: a 3x3 stem and 13 depthwise-separable blocks (32-1024 channels), 1000-way classifier.

    About 570 MMAC at 224x224 (a few hundred MFLOPs class), NCHW, seeded random weights, any batch by default:
    the model where a batch's fixed costs (thread hand-offs, request set-up) weigh most against its arithmetic.
    """
    w = _Weights(seed)
    image = ops.parameter([batch, 3, 224, 224], ov.Type.f32, name="image")
    x = _conv(w, image, 3, 32, 3, 2)
    channels = 32
    for out_channels, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                                 (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)):
        x = _depthwise(w, x, channels, stride)
        x = _conv(w, x, channels, out_channels, 1, 1)
        channels = out_channels
    pooled = ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    fc = ops.matmul(pooled, ops.constant((w.rng.standard_normal((channels, 1000)) * 0.01).astype(np.float32)), False, False)
    probabilities = ops.softmax(fc, 1)
    probabilities.output(0).set_names({"probabilities"})
    return ov.Model([ops.result(probabilities)], [image], "mobilenet_shaped")


def tiny_any_batch() -> ov.Model:
    """The tiny model (x + 1, 10 values a row) with a dynamic batch, so requests can be merged."""
    x = ops.parameter([-1, 10], ov.Type.f32, name="x")
    y = ops.add(x, ops.constant(np.ones((1, 10), np.float32)))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "tiny_any_batch")


def write(root: Path) -> dict[str, Path]:
    """Both models as IR under ``root``; returns name -> base path (the folder holding version 1)."""
    paths = {}
    for name, build in (("tiny", tiny), ("resnet50", resnet50)):
        folder = root / name / "1"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "model.xml").exists():
            ov.save_model(build(), folder / "model.xml", compress_to_fp16=False)
        paths[name] = root / name
    return paths


if __name__ == "__main__":
    for name, path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/models")).items():
        print(name, path)
