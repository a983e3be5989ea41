"""What an encoded image is and how big it says it is, read from its first bytes without decoding a pixel.

Pure Python and import-free on purpose: the decompression-bomb check (width x height against a limit) must run
before any decoder allocates, and a request that is refused here never imports the decoder at all. Reading a JPEG's
SOF segment or a PNG's IHDR chunk by hand costs a few microseconds (bench/RESULTS.md), less than opening the image
with Pillow, and it reads exactly the numbers the decoder will then trust.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import InvalidInput

# Magic numbers, most specific first. Only JPEG and PNG are decoded (as OVMS does); the others are named so that a
# client sending one hears what it sent instead of "not an image".
_PNG = b"\x89PNG\r\n\x1a\n"
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (_PNG, 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"WEBP", 8, "webp"),  # after "RIFF" + size
    (b"BM", 0, "bmp"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"ftypavif", 4, "avif"),
    (b"ftypheic", 4, "heic"),
    (b"ftypheix", 4, "heic"),
    (b"ftypmif1", 4, "heif"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "jpeg2000"),
    (b"\xff\x4f\xff\x51", 0, "jpeg2000"),
    (b"\xff\x0a", 0, "jpegxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "jpegxl"),
    (b"qoif", 0, "qoi"),
    (b"8BPS", 0, "psd"),
    (b"\x00\x00\x01\x00", 0, "ico"),
)
SUPPORTED = ("jpeg", "png")

# PNG colour type -> channels in the file: grey, RGB, palette (decodes to RGB), grey+alpha, RGBA.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
# JPEG start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RST0-7 carry no length


class ImageHeader(NamedTuple):
    """An image's size as its header declares it; ``channels`` is the file's own count (alpha included)."""

    width: int
    height: int
    channels: int
    format: str


def where(name: str | None = None, index: int | None = None, count: int | None = None) -> str:
    """The start of an error message: which image of which input ("input 'image', image 2 of 3")."""
    parts = []
    if name is not None:
        parts.append(f"input '{name}'")
    if index is not None:
        parts.append(f"image {index + 1} of {count}" if count is not None else f"image {index + 1}")
    return ", ".join(parts) or "the image"


def sniff(data: bytes) -> str | None:
    """The image format ``data`` starts with ("jpeg", "png", "gif", "webp", ...), or None if none is recognised."""
    head = bytes(data[:16])
    for magic, offset, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def describe_start(data: bytes) -> str:
    """The first four bytes, as text when they are printable ASCII and as hex otherwise (never more of the payload)."""
    head = bytes(data[:4])
    if not head:
        return "it is empty"
    if all(32 <= b < 127 for b in head):
        return f"it starts with '{head.decode('ascii')}'"
    return f"it starts with 0x{head.hex()}"


def header(data: bytes, *, name: str | None = None, index: int | None = None, count: int | None = None) -> ImageHeader:
    """Width, height, channels and format of a JPEG or PNG, from its SOF segment or IHDR chunk.

    InvalidInput when the data is not JPEG or PNG (naming the format when it is another image format), or when the
    header is cut short or malformed; the optional ``name``/``index``/``count`` say which image in the message.
    """
    what = where(name, index, count)
    fmt = sniff(data)
    if fmt == "png":
        return _png(data, what)
    if fmt == "jpeg":
        return _jpeg(data, what)
    if fmt is not None:
        raise InvalidInput(f"{what}: {fmt.upper()} images are not supported; send JPEG or PNG")
    raise InvalidInput(f"{what}: the data is not a JPEG or PNG image ({describe_start(data)}); send JPEG or PNG")


def _png(data: bytes, what: str) -> ImageHeader:
    if len(data) < 33:
        raise InvalidInput(f"{what}: the PNG image is truncated inside its header ({len(data)} bytes); send the whole file")
    if data[12:16] != b"IHDR" or int.from_bytes(data[8:12], "big") != 13:
        raise InvalidInput(f"{what}: the PNG image is corrupt (its first chunk is not IHDR); send a valid PNG file")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour = data[24], data[25]
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16) or width == 0 or height == 0:
        raise InvalidInput(f"{what}: the PNG image is corrupt (IHDR declares {width}x{height}, bit depth {depth}, colour type {colour})")
    return ImageHeader(width, height, _PNG_CHANNELS[colour], "png")


def _jpeg(data: bytes, what: str) -> ImageHeader:
    """Walk the marker segments from SOI to the first SOFn; never past the first scan."""
    pos, end = 2, len(data)
    while True:
        while pos < end and data[pos] == 0xFF and pos + 1 < end and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > end:
            break
        if data[pos] != 0xFF:
            raise InvalidInput(f"{what}: the JPEG image is corrupt (no marker at byte {pos}); send a valid JPEG file")
        marker = data[pos + 1]
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or SOS before any frame header
            raise InvalidInput(f"{what}: the JPEG image is corrupt (no frame header before its first scan); send a valid JPEG file")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF:
            if pos + 10 > end:
                break
            height, width = int.from_bytes(data[pos + 5 : pos + 7], "big"), int.from_bytes(data[pos + 7 : pos + 9], "big")
            channels = data[pos + 9]
            if width == 0 or height == 0 or channels not in (1, 3, 4):
                declared = f"{width}x{height} with {channels} components"
                raise InvalidInput(f"{what}: the JPEG image is corrupt (its frame header declares {declared})")
            return ImageHeader(width, height, channels, "jpeg")
        if length < 2:
            raise InvalidInput(f"{what}: the JPEG image is corrupt (a segment length of {length}); send a valid JPEG file")
        pos += 2 + length
    raise InvalidInput(f"{what}: the JPEG image is truncated before its frame header ({len(data)} bytes); send the whole file")
