"""Encoded JPEG/PNG images as numeric model inputs: decoded to uint8 HWC the way OVMS does it.

OVMS decodes with OpenCV, so the defaults follow OpenCV: colour comes out in BGR order, grey stays one channel,
alpha is dropped and 16-bit samples become 8-bit (``IMREAD_COLOR``'s conversions), no EXIF rotation is applied
(OVMS reads with ``IMREAD_UNCHANGED``), and a resize is bilinear with half-pixel centres (``cv::resize``
``INTER_LINEAR``). The decoder is Pillow (bench/RESULTS.md, "Image decoders"): OpenCV itself would add 160 MB
to each container image. Pillow is imported on the first decode only, so a Lambda cold start that gets no image pays
nothing, and it is only ever asked to parse JPEG or PNG: every other format is refused from its magic bytes.

Pillow releases the GIL while it decodes, so callers run these functions on worker threads, never on the event loop.
Every image's header is read first (image_headers.py) and its declared width x height checked against
``max_pixels`` before anything is allocated: a decompression bomb is refused without decoding it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..errors import ConfigError, InvalidInput
from .image_headers import ImageHeader, header, sniff, where

__all__ = ["DEFAULT_MAX_PIXELS", "ImageHeader", "check", "decode", "decode_batch", "header", "resize_bilinear", "sniff"]

# 50 megapixels: a 48 MP phone photo (8000x6000) passes. Decoding one costs 9.6 bytes a pixel at its peak
# (Pillow's 4-byte RGBX buffer, the RGB array, the BGR copy): 461 MB, and its uint8 HWC result is 144 MB before
# any cast to the model's FP32 (x4). Measured in bench/RESULTS.md.
DEFAULT_MAX_PIXELS = 50_000_000

_pil: Any = None


def _pillow() -> Any:
    """Import Pillow on first use; ovserve's own header check replaces Pillow's fixed bomb limit."""
    global _pil
    if _pil is None:
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - the images extra is in every deployment's extras
            raise ConfigError("images cannot be decoded: Pillow is not installed (pip install 'ovserve[images]')") from exc
        Image.MAX_IMAGE_PIXELS = None  # checked before decoding, against max_pixels, by check()
        _pil = Image
    return _pil


def check(
    data: bytes, *, max_pixels: int, name: str | None = None, index: int | None = None, count: int | None = None
) -> ImageHeader:
    """The header of a supported image whose declared size is within ``max_pixels``; InvalidInput otherwise."""
    head = header(data, name=name, index=index, count=count)
    pixels = head.width * head.height
    if pixels > max_pixels:
        raise InvalidInput(
            f"{where(name, index, count)}: the image declares {head.width}x{head.height} pixels "
            f"({pixels / 1e6:.0f} megapixels), more than the limit of {max_pixels:,}; "
            "raise --max_image_pixels or send a smaller image"
        )
    return head


def decode(
    data: bytes,
    *,
    channels: int | None,
    color: str = "BGR",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    index: int | None = None,
    count: int | None = None,
) -> np.ndarray:
    """One JPEG or PNG as a C-contiguous uint8 (H, W, C) array, C = ``channels`` (1 or 3; None: the file's own).

    ``color`` is "BGR" (OVMS's order) or "RGB". InvalidInput names the problem: not an image, another format,
    truncated, corrupt, too many pixels, or a channel count no image can give.
    """
    head = check(data, max_pixels=max_pixels, name=name, index=index, count=count)
    want = _channels(channels, head, where(name, index, count))
    out = np.empty((head.height, head.width, want), np.uint8)
    _decode_into(data, out, head, color, where(name, index, count))
    return out


def decode_batch(
    images: list[bytes],
    *,
    channels: int | None,
    color: str = "BGR",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    same_size_required: bool = True,
    resize_to: tuple[int, int] | None = None,
    name: str | None = None,
) -> np.ndarray:
    """N images stacked into one preallocated uint8 (N, H, W, C) array.

    Every header is checked before any image is decoded. With ``same_size_required`` (OVMS when it cannot resize:
    a dynamic H/W, or a layout other than NHWC) images of different sizes are refused, naming the sizes, and
    ``resize_to`` must be None. Otherwise ``resize_to`` (H, W) is required and each image of another size is resized
    to it with OpenCV's INTER_LINEAR rule (resize_bilinear). ``channels`` None takes the first image's count.
    """
    if not images:
        raise InvalidInput(f"{where(name)}: no images; send at least one JPEG or PNG")
    if same_size_required == (resize_to is not None):
        raise ValueError("pass resize_to exactly when same_size_required is False")
    count = len(images)
    heads = [check(data, max_pixels=max_pixels, name=name, index=i, count=count) for i, data in enumerate(images)]
    want = _channels(channels, heads[0], where(name, 0, count))
    if resize_to is None:
        first = heads[0]
        for i, head in enumerate(heads):
            if (head.width, head.height) != (first.width, first.height):
                raise InvalidInput(
                    f"{where(name)}: image {i + 1} of {count} is {head.width}x{head.height} but image 1 is "
                    f"{first.width}x{first.height}; this model takes images of one size, so send them all the same size"
                )
        height, width = first.height, first.width
    else:
        height, width = resize_to
    out = np.empty((count, height, width, want), np.uint8)
    for i, (data, head) in enumerate(zip(images, heads, strict=True)):
        what = where(name, i, count)
        if (head.height, head.width) == (height, width):
            _decode_into(data, out[i], head, color, what)
        else:
            image = np.empty((head.height, head.width, want), np.uint8)
            _decode_into(data, image, head, color, what)
            resize_bilinear(image, out[i])
    return out


def resize_bilinear(image: np.ndarray, out: np.ndarray) -> None:
    """Resize uint8 HWC ``image`` into ``out`` as ``cv::resize(..., INTER_LINEAR)`` does (what OVMS calls).

    Half-pixel centres, edge pixels clamped, no antialiasing when shrinking: Pillow's BILINEAR filter widens its
    kernel when shrinking, which gives visibly different pixels from OVMS for a 1920x1080 -> 224x224 resize, so it is
    not used here. OpenCV rounds 11-bit fixed-point weights; this float version agrees within 1 (tests check it
    against OpenCV where it is installed).
    """
    in_h, in_w = image.shape[:2]
    out_h, out_w = out.shape[:2]
    y0, y1, wy = _taps(in_h, out_h)
    x0, x1, wx = _taps(in_w, out_w)
    rows = image[y0].astype(np.float32)
    rows += (image[y1] - rows) * wy[:, None, None]  # the uint8 - float32 subtraction is done in float32
    left = rows[:, x0]
    left += (rows[:, x1] - left) * wx[None, :, None]
    np.rint(left, out=left)
    np.clip(left, 0, 255, out=left)
    out[...] = left  # float32 -> uint8, in place


def _taps(size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index: the two source indices and the weight of the second (cv::resize's coordinate rule)."""
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * (size / out_size) - 0.5
    src = np.clip(src, 0, size - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, (src - lo).astype(np.float32)


def _channels(channels: int | None, head: ImageHeader, what: str) -> int:
    """The channel count to decode to: the model's (1 or 3), or the file's own (alpha dropped) when it has none."""
    if channels is None:
        return 1 if head.channels in (1, 2) else 3
    if channels not in (1, 3):
        raise InvalidInput(
            f"{what}: the model's input takes {channels} channels, and images decode to 1 (grey) or 3 (colour); "
            "this input cannot be sent as an image"
        )
    return channels


def _decode_into(data: bytes, out: np.ndarray, head: ImageHeader, color: str, what: str) -> None:
    """Decode one image into ``out`` (H, W, 1|3 uint8), converting mode, depth and channel order."""
    if color not in ("BGR", "RGB"):
        raise ValueError(f"color must be 'BGR' or 'RGB', not {color!r}")
    image_module = _pillow()
    fmt = head.format.upper()
    try:
        with image_module.open(io.BytesIO(data), formats=[fmt]) as image:
            if image.size != (head.width, head.height):  # never let Pillow allocate a size the check did not see
                raise InvalidInput(f"{what}: the {fmt} image is corrupt (its header and its data disagree on the size)")
            if out.shape[2] == 1 and head.format == "jpeg":
                image.draft("L", None)  # libjpeg decodes the luma plane straight to grey, as OpenCV's IMREAD_GRAYSCALE
            image.load()
            array = _to_channels(image, out.shape[2])
    except InvalidInput:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for broken data
        raise _broken(data, head, what, exc) from None
    if out.shape[2] == 3 and color == "BGR":
        out[...] = array[..., ::-1]
    else:
        out[...] = array.reshape(out.shape)


def _to_channels(image: Any, channels: int) -> np.ndarray:
    """Pillow image -> uint8 (H, W) or (H, W, 3) RGB: grey/palette/CMYK/alpha converted, 16-bit scaled to 8-bit."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey PNG: keep the high byte, as OpenCV does
        grey = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)
        return grey if channels == 1 else np.repeat(grey[..., None], 3, axis=2)
    if channels == 1:
        if mode == "L":
            return np.asarray(image)
        return np.asarray(image.convert("L") if mode in ("1", "LA", "P", "RGB", "RGBA") else image.convert("RGB").convert("L"))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # Pillow warns when a transparent palette goes straight to RGB
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _broken(data: bytes, head: ImageHeader, what: str, exc: Exception) -> InvalidInput:
    """Truncated (the file lacks its end marker) or otherwise corrupt; Pillow's wording is not passed on."""
    fmt = head.format.upper()
    tail = bytes(data[-12:])
    ended = b"IEND" in tail if head.format == "png" else b"\xff\xd9" in tail
    if not ended:
        return InvalidInput(f"{what}: the {fmt} image is truncated ({len(data)} bytes, no end marker); send the whole file")
    return InvalidInput(f"{what}: the {fmt} image is corrupt ({type(exc).__name__} while decoding); send a valid {fmt} file")

