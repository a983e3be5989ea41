"""Real JPEG and PNG files made from known arrays with Pillow, an NHWC model that shows every pixel, and its answer.

The expected answer is in-process OpenVINO (f32) on what the server should feed the model: the file decoded by
Pillow in OVMS's default BGR order, at the model's size. Tests either send a file of exactly that size (a JPEG is
then compared with what Pillow's libjpeg decodes from the same bytes) or a PNG of each pixel doubled into a 2x2
block, which any bilinear half-pixel-centre resize brings back exactly to the 8x8 original: the resize is checked
without trusting any one resize implementation.
"""

from __future__ import annotations

import io

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from tests import models

SIZE = 8
INPUT, OUTPUT = "image", "scaled"


def nhwc_scale(size: int = SIZE) -> ov.Model:
    """NHWC image [1, size, size, 3] f32 -> the same shape, channel c times (c + 1): order- and position-sensitive."""
    x = ops.parameter([1, size, size, 3], ov.Type.f32, name=INPUT)
    y = ops.multiply(x, ops.constant(np.array([1, 2, 3], dtype=np.float32).reshape(1, 1, 1, 3)))
    y.output(0).set_names({OUTPUT})
    return ov.Model([ops.result(y)], [x], "nhwc_scale")


def nhwc_relu(channels: int, size: int = SIZE) -> ov.Model:
    """NHWC [1, size, size, channels] -> ReLU: a model whose channel count images may not be able to give."""
    x = ops.parameter([1, size, size, channels], ov.Type.f32, name=INPUT)
    y = ops.relu(x)
    y.output(0).set_names({OUTPUT})
    return ov.Model([ops.result(y)], [x], "nhwc_relu")


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header declares ``width`` x ``height`` pixels: a decompression bomb's shape, never decodable."""
    data = bytearray(png(pattern()))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")  # IHDR's width and height
    return bytes(data)


def pattern(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A uint8 RGB (H, W, 3) array with distinct values in every pixel and channel."""
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def encode(rgb: np.ndarray, fmt: str, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png(rgb: np.ndarray) -> bytes:
    return encode(rgb, "PNG")


def jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    return encode(rgb, "JPEG", quality=quality)


def gif(rgb: np.ndarray) -> bytes:
    return encode(rgb, "GIF")


def doubled(rgb: np.ndarray) -> np.ndarray:
    """Every pixel as a 2x2 block: a bilinear resize back to half the size gives ``rgb`` exactly."""
    return np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)


def pillow_rgb(data: bytes) -> np.ndarray:
    """What Pillow decodes from ``data``, as RGB (H, W, 3) uint8."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def expected(rgb: np.ndarray) -> np.ndarray:
    """In-process OpenVINO's answer for the model fed ``rgb`` (at the model's size) in BGR order, as float32."""
    bgr = rgb[..., ::-1].astype(np.float32)[None]
    return models.reference_model_answer(nhwc_scale(rgb.shape[0]), {INPUT: bgr})[OUTPUT]


def cases(seed: int = 0) -> dict[str, tuple[bytes, np.ndarray, float]]:
    """Files to send by name: (bytes, the answer expected, tolerance). JPEG: what libjpeg decodes, within 0."""
    rgb = pattern(SIZE, seed)
    photo = jpeg(pattern(SIZE, seed + 1))
    return {
        "png": (png(rgb), expected(rgb), 1e-4),
        "jpeg": (photo, expected(pillow_rgb(photo)), 1e-4),
        "png-resized": (png(doubled(rgb)), expected(rgb), 1e-4),
    }
