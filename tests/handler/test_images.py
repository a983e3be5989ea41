"""JPEG/PNG decoding for numeric inputs: OVMS's conversions (BGR, grey, alpha, 16-bit), refusals, bombs, batches."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ovserve.handler.codecs import images
from ovserve.handler.codecs.image_headers import header, sniff
from ovserve.handler.errors import InvalidInput
from tests.serverproc import REPO


def smooth(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Gradients plus mild noise: JPEG keeps it within a few levels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200 + 20, y / height * 200 + 20, (x + y) / (width + height) * 200 + 20], axis=-1)
    return np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)


def encoded(array_or_image: np.ndarray | Image.Image, fmt: str, **options: object) -> bytes:
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_by_hand(samples: np.ndarray, colour_type: int, depth: int) -> bytes:
    """A PNG written here (Pillow cannot save 16-bit RGB): big-endian samples, filter 0 on every row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width = samples.shape[:2]
    raw = samples.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    rows = b"".join(b"\x00" + row.tobytes() for row in raw)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def refused(data: bytes, **options: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        images.decode(data, **{"channels": 3, **options})
    return caught.value.message


# --- colour order, exactness, conversions -------------------------------------------------------------------------


def test_png_decodes_exactly_in_bgr_by_default_and_rgb_on_request():
    rgb = smooth(17, 23)
    data = encoded(rgb, "PNG")
    bgr = images.decode(data, channels=3)
    assert bgr.dtype == np.uint8 and bgr.shape == (17, 23, 3) and bgr.flags.c_contiguous
    assert np.array_equal(bgr, rgb[..., ::-1])
    assert np.array_equal(images.decode(data, channels=3, color="RGB"), rgb)


def test_jpeg_decodes_within_tolerance():
    rgb = smooth(64, 80)
    out = images.decode(encoded(rgb, "JPEG", quality=90), channels=3, color="RGB")
    assert out.shape == (64, 80, 3) and out.flags.c_contiguous
    assert np.abs(out.astype(int) - rgb).mean() < 3


def test_grey_png_gives_one_channel_or_three_equal_ones():
    grey = smooth(10, 12)[..., 0]
    data = encoded(grey, "PNG")
    assert header(data) == (12, 10, 1, "png")
    assert np.array_equal(images.decode(data, channels=1), grey[..., None])
    assert np.array_equal(images.decode(data, channels=None), grey[..., None])
    assert np.array_equal(images.decode(data, channels=3), np.repeat(grey[..., None], 3, axis=2))


def test_colour_to_grey_uses_the_luma_weights():
    rgb = smooth(20, 20)
    luma = np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(int)
    out_png = images.decode(encoded(rgb, "PNG"), channels=1)
    assert out_png.shape == (20, 20, 1) and np.abs(out_png[..., 0].astype(int) - luma).max() <= 1
    out_jpeg = images.decode(encoded(rgb, "JPEG", quality=95), channels=1)
    assert np.abs(out_jpeg[..., 0].astype(int) - luma).mean() < 3


def test_grey_jpeg_as_colour():
    grey = smooth(16, 16)[..., 1]
    out = images.decode(encoded(grey, "JPEG", quality=95), channels=3)
    assert header(encoded(grey, "JPEG")).channels == 1
    assert out.shape == (16, 16, 3) and np.array_equal(out[..., 0], out[..., 2])
    assert np.abs(out[..., 0].astype(int) - grey).mean() < 3


def test_rgba_png_drops_alpha_without_blending():
    rgba = np.concatenate([smooth(8, 9), np.full((8, 9, 1), 7, np.uint8)], axis=2)
    data = encoded(rgba, "PNG")
    assert header(data).channels == 4
    assert np.array_equal(images.decode(data, channels=3, color="RGB"), rgba[..., :3])
    assert images.decode(data, channels=None).shape == (8, 9, 3)


def test_palette_png_expands_to_its_colours_with_or_without_transparency():
    palette = Image.new("P", (4, 2))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putdata([0, 1, 1, 0, 1, 0, 0, 1])
    expected = np.array([[10, 20, 30], [200, 100, 50]], np.uint8)[np.array([[0, 1, 1, 0], [1, 0, 0, 1]])]
    assert np.array_equal(images.decode(encoded(palette, "PNG"), channels=3, color="RGB"), expected)
    assert np.array_equal(images.decode(encoded(palette, "PNG", transparency=0), channels=3, color="RGB"), expected)


def test_sixteen_bit_png_keeps_the_high_byte():
    rng = np.random.default_rng(3)
    grey16 = rng.integers(0, 65536, (5, 6), dtype=np.uint16)
    out = images.decode(png_by_hand(grey16, colour_type=0, depth=16), channels=1)
    assert np.array_equal(out[..., 0], (grey16 >> 8).astype(np.uint8))
    rgb16 = rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    out = images.decode(png_by_hand(rgb16, colour_type=2, depth=16), channels=3)
    assert np.array_equal(out, (rgb16 >> 8).astype(np.uint8)[..., ::-1])


def test_a_channel_count_images_cannot_give_is_refused():
    message = refused(encoded(smooth(4, 4), "PNG"), channels=4, name="image")
    assert "input 'image'" in message and "takes 4 channels" in message and "1 (grey) or 3 (colour)" in message


# --- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_cut_at_half_is_truncated(fmt):
    data = encoded(smooth(120, 160), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    message = refused(data[: len(data) // 2], name="image", index=1, count=3)
    assert message.startswith("input 'image', image 2 of 3: ") and f"{fmt} image is truncated" in message


def test_random_bytes_are_not_an_image():
    data = np.random.default_rng(5).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    message = refused(b"\x01\x02\x03\x04" + data)
    assert "not a JPEG or PNG image (it starts with 0x01020304); send JPEG or PNG" in message
    assert "it is empty" in refused(b"")
    assert "it starts with 'hell'" in refused(b"hello world")


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "gif"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tiff")])
def test_other_image_formats_are_refused_by_name(fmt, name):
    data = encoded(smooth(8, 8), fmt)
    assert sniff(data) == name
    assert f"{fmt} images are not supported; send JPEG or PNG" in refused(data, name="image")


def test_corrupt_headers_are_named():
    jpeg = encoded(smooth(8, 8), "JPEG")
    sos = jpeg.index(b"\xff\xda")
    sof = jpeg.index(b"\xff\xc0")
    without_frame = jpeg[:sof] + jpeg[sos:]
    assert "no frame header before its first scan" in refused(without_frame)
    assert "truncated before its frame header" in refused(jpeg[:sof + 3])
    assert "PNG image is truncated inside its header" in refused(encoded(smooth(8, 8), "PNG")[:20])


def test_pixel_data_that_contradicts_the_header_is_corrupt():
    data = bytearray(encoded(smooth(30, 40), "PNG"))
    data[100:400] = bytes(300)  # inside IDAT: the CRC and the zlib stream no longer match
    message = refused(bytes(data))
    assert "PNG image is corrupt" in message or "PNG image is truncated" in message


# --- decompression bombs ------------------------------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = b"IHDR" + ihdr
    idat = zlib.compress(bytes(1000))
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body))
        + struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to declare width x height."""
    data = bytearray(encoded(smooth(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("make", [png_header_only, jpeg_with_size])
def test_a_bomb_is_refused_from_its_header(make):
    message = refused(make(60000, 60000), name="image", max_pixels=images.DEFAULT_MAX_PIXELS)
    assert "declares 60000x60000 pixels (3600 megapixels), more than the limit of 50,000,000" in message
    assert "raise --max_image_pixels or send a smaller image" in message


def test_a_bomb_never_reaches_the_decoder_nor_allocates():
    """In a fresh interpreter: refused without importing Pillow, and the peak RSS does not move."""
    code = (
        "import sys\n"
        "from tests.handler.test_images import png_header_only, jpeg_with_size\n"
        "from ovserve.handler.codecs import images\n"
        "from ovserve.handler.errors import InvalidInput\n"
        "def hwm(): return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
        "bombs = [png_header_only(60000, 60000), jpeg_with_size(60000, 60000)]\n"
        "sys.modules.pop('PIL', None); sys.modules.pop('PIL.Image', None)\n"
        "before = hwm()\n"
        "for bomb in bombs:\n"
        "    try:\n"
        "        images.decode_batch([bomb], channels=3)\n"
        "    except InvalidInput:\n"
        "        pass\n"
        "print('PIL.Image' in sys.modules, hwm() - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    imported, growth_kib = result.stdout.split()
    assert imported == "False"
    assert int(growth_kib) < 10_000  # 60000x60000x3 would be 10.8 GB


def test_the_limit_is_inclusive_and_a_setting():
    data = encoded(smooth(10, 10), "PNG")
    assert images.decode(data, channels=3, max_pixels=100).shape == (10, 10, 3)
    assert "more than the limit of 99" in refused(data, max_pixels=99)


def test_importing_the_codec_does_not_import_pillow():
    code = "import sys, ovserve.handler.codecs.images; print('PIL' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"


# --- batches and resizing -----------------------------------------------------------------------------------------


def test_a_batch_stacks_into_one_array():
    arrays = [smooth(12, 14, seed) for seed in range(3)]
    out = images.decode_batch([encoded(a, "PNG") for a in arrays], channels=3, color="RGB")
    assert out.shape == (3, 12, 14, 3) and out.flags.c_contiguous
    assert np.array_equal(out, np.stack(arrays))


def test_a_batch_of_different_sizes_is_refused_naming_them():
    batch = [encoded(smooth(12, 14), "PNG"), encoded(smooth(12, 14), "PNG"), encoded(smooth(20, 30), "JPEG")]
    with pytest.raises(InvalidInput) as caught:
        images.decode_batch(batch, channels=3, name="image")
    assert "input 'image': image 3 of 3 is 30x20 but image 1 is 14x12" in caught.value.message


def test_a_bad_image_in_a_batch_is_named_before_any_decode():
    batch = [encoded(smooth(12, 14), "PNG"), b"GIF89a" + bytes(20)]
    with pytest.raises(InvalidInput) as caught:
        images.decode_batch(batch, channels=3, name="image")
    assert caught.value.message.startswith("input 'image', image 2 of 2: GIF images are not supported")


def test_a_batch_of_different_sizes_is_resized_when_allowed():
    arrays = [smooth(12, 14), smooth(24, 28), smooth(6, 7)]
    out = images.decode_batch(
        [encoded(a, "PNG") for a in arrays], channels=3, color="RGB", same_size_required=False, resize_to=(12, 14)
    )
    assert out.shape == (3, 12, 14, 3)
    assert np.array_equal(out[0], arrays[0])
    for i in (1, 2):
        expected = np.empty((12, 14, 3), np.uint8)
        images.resize_bilinear(arrays[i], expected)
        assert np.array_equal(out[i], expected)


def test_resize_arguments_must_agree():
    data = [encoded(smooth(4, 4), "PNG")]
    with pytest.raises(ValueError):
        images.decode_batch(data, channels=3, same_size_required=False)
    with pytest.raises(ValueError):
        images.decode_batch(data, channels=3, resize_to=(2, 2))


def test_bilinear_follows_opencvs_pixel_centres():
    image = np.array([[0, 100], [200, 40]], np.uint8)[..., None]
    up = np.empty((4, 4, 1), np.uint8)
    images.resize_bilinear(image, up)
    # source x for output 0..3 is -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    assert up[0, :, 0].tolist() == [0, 25, 75, 100]
    assert up[:, 0, 0].tolist() == [0, 50, 150, 200]
    down = np.empty((1, 1, 1), np.uint8)
    images.resize_bilinear(image, down)
    assert down[0, 0, 0] == 85  # the 2x2 mean (340 / 4), as cv::resize's exact halving gives


def test_bilinear_matches_opencv_recorded_answers():
    """cv2.resize(INTER_LINEAR) answers recorded with opencv-python-headless 5.0 (OVMS's resize) for a random image."""
    recorded = np.load(Path(__file__).parent / "data" / "opencv_resize.npz")
    source = recorded["source"]
    for key in ("cv2_16x16", "cv2_30x50", "cv2_40x60"):
        reference = recorded[key]
        out = np.empty(reference.shape, np.uint8)
        images.resize_bilinear(source, out)
        assert np.abs(out.astype(int) - reference).max() <= 1, key
