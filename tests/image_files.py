"""Encoded images made in the tests from known arrays (Pillow), good and bad, and the references they decode to."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from ovserve.handler.codecs import images

RNG = np.random.default_rng(11)


def pattern(height: int, width: int) -> np.ndarray:
    """Smooth RGB content (JPEG keeps it close) with a little noise, uint8 (H, W, 3)."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) * 127 // max(height + width - 2, 1)], -1)
    return np.clip(base + RNG.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, fmt, **options)
    return out.getvalue()


def jpeg(array: np.ndarray) -> bytes:
    return encode(array, "JPEG", quality=95)


def png(array: np.ndarray) -> bytes:
    return encode(array, "PNG")


def decoded(data: bytes, color: str = "BGR") -> np.ndarray:
    """The uint8 HWC array the server decodes ``data`` to (the same Pillow call), for references."""
    return images.decode(data, channels=3, color=color)


def png_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: a valid greyscale PNG of ``width`` x ``height`` zeros, a few KB on the wire."""
    raw = zlib.compress(b"\x00" * ((width + 1) * height), 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


SMALL = pattern(8, 8)
WIDE = pattern(20, 30)
# Bad images for every protocol: (case, model, images, fragment of the 400's message).
BAD: list[tuple[str, str, list[bytes], str]] = [
    ("not-an-image", "fixed", [b"hello, not an image"], "is not a JPEG or PNG image"),
    ("truncated", "fixed", [png(WIDE)[:-40]], "truncated"),
    ("gif", "fixed", [encode(SMALL, "GIF")], "GIF images are not supported; send JPEG or PNG"),
    ("webp", "fixed", [encode(SMALL, "WEBP")], "WEBP images are not supported; send JPEG or PNG"),
    ("four-channels", "four", [png(SMALL)], "takes 4 channels"),
    ("two-channels", "two_ch", [png(SMALL)], "takes 2 channels"),
    ("mixed-sizes", "dynamic", [png(SMALL), png(WIDE)], "image 2 of 2 is 30x20 but image 1 is 8x8"),
    ("bomb", "dynamic", [png_bomb(4000, 4000)], "more than the limit of 100,000"),
]
