"""Encoded images (JPEG, PNG) sent for numeric inputs, decoded once in the engine for every protocol.

Every codec hands an encoded image over the same way: a numpy object array of ``bytes``, one per batch row (TF
Serving ``{"b64": ...}`` and ``string_val``, KServe v2 ``BYTES`` in JSON, binary data, ``bytes_contents`` or raw
length-prefixed contents). ``validation.takes_images`` lets those bytes through the codecs' type checks for 4-D
numeric inputs only, and the engine calls ``decode_inputs`` here on one of two image worker threads (Pillow releases
the GIL while it decodes, so two decode at once; the event loop never decodes).

The rules are OVMS's (shared/reference/serving-features.md, B2), applied to the input as the client sees it
(after ``--layout`` and the ``image`` setting's PrePostProcessor steps):

* the input is 4-D and its layout, when the model declares one, fits NHWC; an NCHW model is served with
  ``--layout NHWC:NCHW``, which OpenVINO turns into an NHWC input with a transpose inside the model;
* C is 1 or 3, or -1 (the first image's own count decides); N must fit the number of images;
* H and W both fixed (or ranges, clamped to their nearer bound): each image is resized to them (OpenCV's
  INTER_LINEAR rule); either one -1: images pass at their own size, must all be one size and match a fixed H or W;
* colour order BGR unless the model's ``image`` setting says RGB; values stay 0-255, cast to the input's type.

Unlike OVMS, a decode failure is a 400 naming the problem (OVMS answers 500), the image's declared pixels are
checked against ``--max_image_pixels`` before decoding, and the decoded batch counts against the same 1 GiB a
tensor may take. An input whose H and W are fixed is resized whatever its batch dimension (OVMS resizes only when
no dimension at all is -1, so ``batch_size auto`` turns its resize off).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .codecs import images
from .codecs.image_headers import ImageHeader, where
from .codecs.limits import DEFAULT_MAX_BYTES
from .daemon_threads import DaemonPool
from .errors import InvalidInput
from .settings.config import ModelConfig
from .settings.values import Dim
from .signature import Signature, TensorSpec
from .validation import is_encoded, takes_images

__all__ = ["ImageSettings", "decode_input", "decode_inputs", "decode_on_worker", "needs_decoding"]

log = logging.getLogger("ovserve.images")

# Two threads: Pillow's decoders release the GIL, so a second image decodes while the first does; more would
# compete with OpenVINO's own inference threads for the same cores.
WORKERS = 2
_pool = DaemonPool(WORKERS, "ovserve-image")


@dataclass(frozen=True)
class ImageSettings:
    """What decoding needs from the model's configuration."""

    max_pixels: int = images.DEFAULT_MAX_PIXELS
    color: str = "BGR"
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def of(cls, config: ModelConfig) -> ImageSettings:
        """The settings of a configured model: ``--max_image_pixels`` and its ``image`` colour order."""
        return cls(max_pixels=config.max_image_pixels, color=config.image.color if config.image else "BGR")


def needs_decoding(arrays: Mapping[str, np.ndarray], signature: Signature) -> bool:
    """Whether some numeric input was given as encoded bytes (a string input keeps its bytes)."""
    for name, array in arrays.items():
        if array.dtype.kind in "OS":
            spec = signature.input(name)
            if spec is not None and spec.dtype.numpy is not None:
                return True
    return False


def decode_inputs(arrays: Mapping[str, np.ndarray], signature: Signature, settings: ImageSettings) -> dict[str, np.ndarray]:
    """``arrays`` with every encoded numeric input decoded to the input's type; blocking (run it on a worker)."""
    decoded = dict(arrays)
    for name, array in arrays.items():
        spec = signature.input(name)
        if spec is not None and spec.dtype.numpy is not None and is_encoded(array):
            decoded[name] = decode_input(spec, array, settings)
    return decoded


async def decode_on_worker(
    arrays: Mapping[str, np.ndarray], signature: Signature, settings: ImageSettings
) -> dict[str, np.ndarray]:
    """``decode_inputs`` on an image worker thread, awaited from the event loop."""
    return await _pool.run(lambda: decode_inputs(arrays, signature, settings))


def decode_input(spec: TensorSpec, array: np.ndarray, settings: ImageSettings) -> np.ndarray:
    """One input's encoded images as the ``[N, H, W, C]`` array of ``spec``'s type, or InvalidInput saying why not."""
    name = spec.name
    _check_input(spec)
    datas = _payloads(name, array)
    count = len(datas)
    datas = [_unwrapped(data, name, i, count) for i, data in enumerate(datas)]
    assert spec.shape is not None
    batch, height, width, channels = spec.shape
    if not _fits(batch, count):
        raise InvalidInput(
            f"Input batch size is incorrect for input '{name}'. Obtained {count} images, required batch size "
            f"{_dim_text(batch)}; send one image per batch row"
        )
    heads = [_header(data, settings.max_pixels, name, i, count) for i, data in enumerate(datas)]
    resize_to = _target_size(name, spec, heads)
    out_h, out_w = resize_to or (heads[0].height, heads[0].width)
    want = channels if isinstance(channels, int) and channels != -1 else None
    _check_budget(name, spec, count, out_h, out_w, want or 3, settings.max_bytes)
    decoded = images.decode_batch(
        datas, channels=want, color=settings.color, max_pixels=settings.max_pixels,
        same_size_required=resize_to is None, resize_to=resize_to, name=name,
    )
    log.debug("images decoded", extra={"input": name, "images": count, "shape": list(decoded.shape)})
    return _cast(decoded, spec)


# How base64 text of a JPEG or PNG starts. KServe v2 JSON can only carry BYTES as strings, so an image comes as its
# base64 text there; text that starts like this, sent for a numeric input (where it can mean nothing else), is
# decoded to the image first, on every API alike.
_BASE64_STARTS = (b"/9j/", b"iVBORw0KGgo")


def _unwrapped(data: bytes, name: str, index: int, count: int) -> bytes:
    """The image itself: ``data``, or the bytes its base64 text stands for."""
    if not data.startswith(_BASE64_STARTS):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"{where(name, index, count)}: the data starts like base64 text of a JPEG or PNG but is not valid base64; "
            "send the image's bytes, or its whole base64 text without line breaks"
        ) from None


def _header(data: bytes, max_pixels: int, name: str, index: int, count: int) -> ImageHeader:
    return images.check(data, max_pixels=max_pixels, name=name, index=index, count=count)


def _check_input(spec: TensorSpec) -> None:
    """The input can take images at all: 4-D, a layout that fits NHWC, 1 or 3 channels, a number type."""
    name = spec.name
    if not takes_images(spec):
        raise InvalidInput(
            f"input '{name}' takes {spec.dtype.ov_name} numbers of shape {spec.shape_text()}; encoded images "
            "are only decoded for 4-D NHWC inputs"
        )
    if spec.layout is not None and not _fits_nhwc(spec.layout):
        raise InvalidInput(
            f"input '{name}' has layout {spec.layout}, and images decode to NHWC; serve the model with "
            f"--layout NHWC:{spec.layout} (\"layout\" in config.json) so this input takes NHWC images"
        )
    assert spec.shape is not None
    channels = spec.shape[3]
    if isinstance(channels, int) and channels not in (-1, 1, 3):
        raise InvalidInput(
            f"input '{name}' takes {channels} channels (shape {spec.shape_text()}, NHWC), and images decode to "
            "1 (grey) or 3 (colour); this input cannot be sent as an image"
        )
    if spec.dtype.numpy is not None and spec.dtype.numpy.kind == "b":
        raise InvalidInput(f"input '{name}' takes booleans; images decode to 0-255 values, so they cannot be sent to it")


def _fits_nhwc(layout: str) -> bool:
    """Whether a declared layout can describe NHWC data ('?' matches anything, '...' any run of dimensions)."""
    if "..." in layout:
        head, _, tail = layout.partition("...")
        return all(a in (b, "?") for a, b in zip(head, "NHWC", strict=False)) and all(
            a in (b, "?") for a, b in zip(reversed(tail), reversed("NHWC"), strict=False)
        ) and len(head) + len(tail) <= 4
    return len(layout) == 4 and all(a in (b, "?") for a, b in zip(layout, "NHWC", strict=True))


def _payloads(name: str, array: np.ndarray) -> list[bytes]:
    """The encoded images, one per batch row: shape [N], [N, 1] (row form) or a single value."""
    if array.ndim <= 1 or (array.ndim == 2 and array.shape[1] == 1):
        flat = array.reshape(-1)
    else:
        raise InvalidInput(
            f"input '{name}': encoded images come one per batch row, as shape [N] (or [N, 1]); got shape "
            f"{list(array.shape)}"
        )
    datas = []
    for index, item in enumerate(flat):
        if isinstance(item, bytes):  # np.bytes_ (from |S arrays) is bytes too
            datas.append(bytes(item))
        else:
            raise InvalidInput(
                f"{where(name, index, len(flat))}: a {type(item).__name__} value, not an encoded image; send JPEG or PNG bytes"
            )
    if not datas:
        raise InvalidInput(f"input '{name}': no images; send at least one JPEG or PNG")
    return datas


def _fits(dim: Dim, size: int) -> bool:
    if isinstance(dim, tuple):
        return dim[0] <= size <= dim[1]
    return dim == -1 or dim == size


def _dim_text(dim: Dim) -> str:
    return f"{dim[0]}:{dim[1]}" if isinstance(dim, tuple) else str(dim)


def _clamp(dim: Dim, size: int) -> int:
    if isinstance(dim, tuple):
        return min(max(size, dim[0]), dim[1])
    return dim


def _target_size(name: str, spec: TensorSpec, heads: list[ImageHeader]) -> tuple[int, int] | None:
    """(H, W) to resize every image to, or None when they pass at their own (single) size."""
    assert spec.shape is not None
    height, width = spec.shape[1], spec.shape[2]
    count, first = len(heads), heads[0]
    if height == -1 or width == -1:  # a dynamic size: no resize (OVMS), one size for the whole batch
        for i, head in enumerate(heads):
            if (head.width, head.height) != (first.width, first.height):
                raise InvalidInput(
                    f"input '{name}': image {i + 1} of {count} is {head.width}x{head.height} but image 1 is "
                    f"{first.width}x{first.height}; this input's size is dynamic (shape {spec.shape_text()}), so every "
                    "image of a batch must be one size"
                )
        for label, dim, size in (("height", height, first.height), ("width", width, first.width)):
            if dim != -1 and not _fits(dim, size):
                raise InvalidInput(
                    f"input '{name}': the images are {first.width}x{first.height}, but this input takes a {label} of "
                    f"{_dim_text(dim)} (shape {spec.shape_text()}, NHWC) and is not resized; send images of that {label}"
                )
        return None
    targets = {(_clamp(height, h.height), _clamp(width, h.width)) for h in heads}
    if len(targets) > 1:
        sizes = sorted({f"{h.width}x{h.height}" for h in heads})
        raise InvalidInput(
            f"input '{name}': the images ({', '.join(sizes)}) would be resized to different sizes within the range of "
            f"shape {spec.shape_text()}; send the images of one batch at one size"
        )
    (target,) = targets
    if all((h.height, h.width) == target for h in heads):
        return None
    return target


def _check_budget(name: str, spec: TensorSpec, count: int, height: int, width: int, channels: int, max_bytes: int) -> None:
    """The decoded batch, in the input's type, must fit what a request may allocate, as a tensor's shape must."""
    assert spec.dtype.numpy is not None
    nbytes = count * height * width * channels * max(spec.dtype.numpy.itemsize, 1)
    if nbytes > max_bytes:
        raise InvalidInput(
            f"input '{name}': {count} images of {width}x{height} decode to {nbytes} bytes of {spec.dtype.ov_name}, "
            f"more than the {max_bytes} bytes a request may carry; send fewer or smaller images"
        )


def _cast(decoded: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """uint8 0-255 as the input's type without scaling (OpenCV's convertTo, which saturates into int8)."""
    want = spec.dtype.numpy
    assert want is not None
    if want == decoded.dtype:
        return decoded
    if want == np.int8:
        return np.minimum(decoded, 127).astype(np.int8)
    return decoded.astype(want)
