"""JPEG/PNG decoders compared, to choose the one ovserve ships (images as numeric model inputs).

For each candidate that is installed (Pillow, OpenCV headless, simplejpeg + pyspng, imagecodecs): decode time (median
of many) for a 224x224 and a 1920x1080 JPEG (quality 90) and PNG, all made here from known content (smooth gradients
plus noise); installed size (from the distribution's RECORD) and wheel size (from ``--wheels DIR``, ``pip download``
output); import time in a fresh interpreter; whether decoding releases the GIL (two threads' throughput over one
thread's, and a Python counter thread's rate while the main thread decodes, over its rate while it sleeps); whether it
reads width/height/channels without decoding (the decompression-bomb check); and what it does with a JPEG and a PNG cut
at half and with random bytes (an exception, ``None``, or an image with made-up pixels).
Usage: python -m bench.image_decode [--wheels DIR] [--seconds 0.4]   (prints a markdown table)
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import io
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Decoder = Callable[[bytes], object]


def sample(height: int, width: int) -> np.ndarray:
    """Smooth gradients plus noise: compresses like a photo, not like a flat test card."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str) -> bytes:
    """Encode with whichever encoder is installed (Pillow first, then OpenCV)."""
    try:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(array).save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return out.getvalue()
    except ImportError:
        import cv2

        flags = [cv2.IMWRITE_JPEG_QUALITY, 90] if fmt == "JPEG" else []
        return cv2.imencode("." + fmt.lower(), array[..., ::-1], flags)[1].tobytes()


def _pillow() -> tuple[Decoder, Decoder]:
    from PIL import Image

    def decode(data: bytes) -> object:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))

    def header(data: bytes) -> object:
        with Image.open(io.BytesIO(data)) as image:
            return image.size, image.mode

    return decode, header


def _opencv() -> tuple[Decoder, Decoder | None]:
    import cv2

    def decode(data: bytes) -> object:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    return decode, None  # no header-only API in the Python bindings


def _simplejpeg_pyspng() -> tuple[Decoder, Decoder]:
    import pyspng
    import simplejpeg

    def decode(data: bytes) -> object:
        if data[:2] == b"\xff\xd8":
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        return pyspng.load(data)

    def header(data: bytes) -> object:
        if data[:2] == b"\xff\xd8":
            return simplejpeg.decode_jpeg_header(data)
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # PNG IHDR by hand

    return decode, header


def _imagecodecs() -> tuple[Decoder, Decoder | None]:
    import imagecodecs

    def decode(data: bytes) -> object:
        return imagecodecs.jpeg8_decode(data) if data[:2] == b"\xff\xd8" else imagecodecs.png_decode(data)

    return decode, None


# name -> (distributions to size, module to import-time, factory)
CANDIDATES: dict[str, tuple[tuple[str, ...], str, Callable[[], tuple[Decoder, Decoder | None]]]] = {
    "Pillow": (("pillow",), "PIL.Image", _pillow),
    "opencv-python-headless": (("opencv-python-headless",), "cv2", _opencv),
    "simplejpeg + pyspng": (("simplejpeg", "pyspng"), "simplejpeg, pyspng", _simplejpeg_pyspng),
    "imagecodecs": (("imagecodecs",), "imagecodecs", _imagecodecs),
}


def installed_mb(dists: tuple[str, ...]) -> float:
    """Bytes on disk of every file a distribution installed (its .libs folder of bundled C libraries included)."""
    total = 0
    for name in dists:
        for file in md.distribution(name).files or []:
            path = Path(file.locate())
            total += path.stat().st_size if path.is_file() else 0
    return total / 1e6


def wheel_mb(dists: tuple[str, ...], wheels: Path | None) -> str:
    """Sizes of the matching wheels in ``wheels`` (a ``pip download --no-deps`` folder), or '?'."""
    if wheels is None:
        return "?"
    sizes = []
    for name in dists:
        version = md.version(name)
        prefix = f"{name.replace('-', '_')}-{version}-".lower()
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(prefix)]
        sizes.append(found[0].stat().st_size / 1e6 if found else float("nan"))
    return " + ".join(f"{s:.1f}" for s in sizes)


def import_seconds(module: str, repeats: int = 5) -> float:
    """Median wall time of ``import module`` in a fresh interpreter (numpy already imported, as ovserve has it)."""
    code = f"import numpy, time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def median_ms(decode: Decoder, data: bytes, seconds: float) -> float:
    """Median of at least 20 decodes, or as many as fit in ``seconds``."""
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 20 or time.perf_counter() < deadline:
        start = time.perf_counter()
        decode(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def two_thread_speedup(decode: Decoder, data: bytes, seconds: float, rounds: int = 5) -> float:
    """Decodes per second on two threads over one thread's: about 2 on two cores if the GIL is released.

    One- and two-thread runs alternate for ``rounds`` rounds and the medians are compared, so that other work on the
    machine weighs on both sides alike.
    """

    def rate(threads: int) -> float:
        counts = [0] * threads
        stop = time.perf_counter() + seconds

        def work(i: int) -> None:
            while time.perf_counter() < stop:
                decode(data)
                counts[i] += 1

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return sum(counts) / seconds

    pairs = [(rate(1), rate(2)) for _ in range(rounds)]
    return statistics.median(two for _, two in pairs) / statistics.median(one for one, _ in pairs)


def counter_share(decode: Decoder, data: bytes, seconds: float) -> float:
    """A pure-Python counter thread's rate while the main thread decodes, over its rate while the main thread sleeps."""

    def count_while(body: Callable[[], None]) -> float:
        stop = threading.Event()
        counted = [0]

        def counter() -> None:
            n = 0
            while not stop.is_set():
                n += 1
            counted[0] = n

        thread = threading.Thread(target=counter)
        thread.start()
        body()
        stop.set()
        thread.join()
        return counted[0]

    def decoding() -> None:
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            decode(data)

    idle = count_while(lambda: time.sleep(seconds))
    return count_while(decoding) / idle


def damaged(decode: Decoder, data: bytes) -> str:
    """What the decoder does with ``data``: an exception's type, None, or an array it made up."""
    try:
        out = decode(data)
    except Exception as exc:  # noqa: BLE001 - any exception is an answer here
        return f"raises {type(exc).__name__}"
    if out is None:
        return "returns None"
    return f"returns an array {getattr(out, 'shape', '?')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, help="folder of `pip download --no-deps` wheels, for wheel sizes")
    parser.add_argument("--seconds", type=float, default=0.4, help="time per measurement")
    args = parser.parse_args()

    small, large = sample(224, 224), sample(1080, 1920)
    images = {
        "JPEG 224²": encode(small, "JPEG"),
        "JPEG 1080p": encode(large, "JPEG"),
        "PNG 224²": encode(small, "PNG"),
        "PNG 1080p": encode(large, "PNG"),
    }
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    print("Encoded sizes: " + ", ".join(f"{name} {len(data) / 1e3:.0f} kB" for name, data in images.items()) + "\n")

    cols = [f"{n} ms" for n in images] + [
        "2 threads / 1 (JPEG 1080p)",
        "counter thread while decoding (JPEG / PNG 1080p)",
        "header only",
        "JPEG cut at half",
        "PNG cut at half",
        "random bytes",
        "wheel MB",
        "installed MB",
        "import s",
    ]
    print("| decoder | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, (dists, module, factory) in CANDIDATES.items():
        try:
            decode, header = factory()
        except ImportError:
            print(f"| {name} | not installed" + " |" * len(cols))
            continue
        times = [f"{median_ms(decode, data, args.seconds):.2f}" for data in images.values()]
        speedup = two_thread_speedup(decode, images["JPEG 1080p"], args.seconds / 2)
        shares = [statistics.median(counter_share(decode, images[n], args.seconds) for _ in range(3)) for n in ("JPEG 1080p", "PNG 1080p")]
        head = "no"
        if header is not None:
            head = f"yes, {median_ms(header, images['JPEG 1080p'], 0.05) * 1e3:.0f} µs (JPEG)"
        row = times + [
            f"{speedup:.2f}",
            " / ".join(f"{share:.2f}" for share in shares),
            head,
            damaged(decode, images["JPEG 1080p"][: len(images["JPEG 1080p"]) // 2]),
            damaged(decode, images["PNG 1080p"][: len(images["PNG 1080p"]) // 2]),
            damaged(decode, noise),
            wheel_mb(dists, args.wheels),
            f"{installed_mb(dists):.1f}",
            f"{import_seconds(module):.3f}",
        ]
        print(f"| {name} | " + " | ".join(row) + " |")
    ovserve_extras(images, large)


def ovserve_extras(images: dict[str, bytes], large: np.ndarray) -> None:
    """ovserve's own pieces: header parser vs Pillow's lazy open, the OpenCV-rule resize, peak memory of a decode."""
    from ovserve.handler.codecs import images as codec

    print("\n| ovserve step | result |\n|---|---|")
    for name in ("JPEG 1080p", "PNG 1080p"):
        data = images[name]
        own = median_ms(codec.header, data, 0.1) * 1e3
        row = f"| header of {name}: image_headers.header | {own:.1f} µs"
        try:
            _, pillow_header = _pillow()
            row += f"; Pillow Image.open {median_ms(pillow_header, data, 0.1) * 1e3:.1f} µs"
        except ImportError:
            pass
        print(row + " |")
    out = np.empty((224, 224, 3), np.uint8)
    print(f"| resize_bilinear 1920x1080 -> 224x224 | {median_ms(lambda _: codec.resize_bilinear(large, out), b'', 0.2):.2f} ms |")
    try:
        import cv2

        reference = cv2.resize(large, (224, 224), interpolation=cv2.INTER_LINEAR)
        print(f"| resize_bilinear vs cv2.resize INTER_LINEAR, max abs difference | {np.abs(out.astype(int) - reference).max()} |")
        from PIL import Image

        pillow = np.asarray(Image.fromarray(large).resize((224, 224), Image.Resampling.BILINEAR))
        print(f"| Pillow BILINEAR vs cv2.resize INTER_LINEAR, max abs difference | {np.abs(pillow.astype(int) - reference).max()} |")
        for name in ("JPEG 1080p", "PNG 1080p"):
            buffer = np.frombuffer(images[name], np.uint8)
            colour = np.abs(codec.decode(images[name], channels=3).astype(int) - cv2.imdecode(buffer, cv2.IMREAD_COLOR)).max()
            grey = codec.decode(images[name], channels=1)[..., 0].astype(int) - cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
            print(f"| {name}: images.decode vs cv2.imdecode, max abs difference | BGR {colour}, grey {np.abs(grey).max()} |")
    except ImportError:
        pass
    for height, width in ((1080, 1920), (6000, 8000)):
        print(f"| peak RSS (VmHWM) growth decoding a {width}x{height} JPEG (decode, BGR) | {_decode_peak_mb(height, width):.0f} MB |")


def _decode_peak_mb(height: int, width: int) -> float:
    """VmHWM growth of a fresh interpreter across one decode (ru_maxrss survives fork + exec); the JPEG is made here."""
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(encode(sample(height, width), "JPEG"))
        file.flush()
        code = (
            "import sys\n"
            "def hwm(): return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
            "from ovserve.handler.codecs import images\n"
            "data = open(sys.argv[1], 'rb').read(); images._pillow()\n"
            "before = hwm()\n"
            "images.decode(data, channels=3, max_pixels=10**9)\n"
            "print((hwm() - before) / 1024)\n"
        )
        run = subprocess.run([sys.executable, "-c", code, file.name], capture_output=True, text=True, check=True)
    return float(run.stdout)

if __name__ == "__main__":
    main()
