"""ResNet-50 fed with a 224x224 JPEG, against raw OpenVINO inferring the decoded tensor, in the same run.

The point of sending images (issue 15) is that the server, not the client, decodes them: a 224x224 JPEG is a few
tens of kilobytes where the same image as a float tensor is 600 KB binary or a megabyte of JSON. This measures what
that costs the server. Three ways in, each at concurrency 1 and 8:
* TF Serving REST ``{"instances": [{"b64": ...}]}`` (the standalone server);
* KServe v2 REST binary: one BYTES input of shape [1], the image length-prefixed (uint32 LE), binary answer;
* SageMaker ``/invocations`` with ``Content-Type: image/jpeg`` (``serve``).
Beside them: TF Serving REST JSON with the decoded tensor as numbers (what a client sends without image inputs),
and raw ``AsyncInferQueue`` on the decoded tensor, the limit (goal: the image paths at 0.90 of it or more), plus
raw on the IR with the layout compiled in as the server compiles it, which shows what the transpose alone costs.
ResNet-50 here is the bench's NCHW [1, 3, 224, 224] IR served with layout ``NHWC:NCHW``, so the client sees the
NHWC input images need; raw infers the original IR with the decoded image transposed to NCHW, so the transpose
the server compiles in counts against it. Every body is sent once and its answer checked (shape [1, 1000], close to
raw's) before anything is timed. Request bytes and server CPU per image are in the table; medians of interleaved
repeats are appended to bench/RESULTS.md.
Usage: python -m bench.image_inputs [--seconds 4] [--repeats 3] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openvino as ov
import orjson

from . import loadgen, models, raw
from .report import publish
from .run import Server
from .sagemaker import Endpoint
from .stats import Point, interleaved, median_point

THROUGHPUT = {"PERFORMANCE_HINT": "THROUGHPUT"}
LAYOUT = "NHWC:NCHW"
SIZE = 224
HEADER_LENGTH = "Inference-Header-Content-Length"


def photo_like(size: int = SIZE, seed: int = 15) -> np.ndarray:
    """A uint8 RGB image with smooth gradients, edges and a little noise: it compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [np.sin(6 * x + 2 * c) * np.cos(4 * y - c) for c in range(3)]
    image = (np.stack(channels, axis=-1) + 1) * 110
    image[(x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.04] = (230, 40, 30)  # a disc with a sharp edge
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decoded_nhwc(data: bytes) -> np.ndarray:
    """What the server feeds the model for ``data``: decoded in OVMS's BGR order, float32 [1, H, W, 3]."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1], dtype=np.float32)[None]


def tfs_b64_body(data: bytes) -> bytes:
    return orjson.dumps({"instances": [{"b64": base64.b64encode(data).decode("ascii")}]})


def v2_binary_body(data: bytes) -> tuple[bytes, dict[str, str]]:
    """One BYTES element (4-byte little-endian length, then the JPEG), binary answer asked for, and its headers."""
    element = len(data).to_bytes(4, "little") + data
    header = orjson.dumps({
        "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(element)}}],
        "parameters": {"binary_data_output": True},
    })
    return header + element, {HEADER_LENGTH: str(len(header))}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url} answered {exc.code}: {exc.read()[:500]!r}") from None


def _checked(what: str, got: np.ndarray, expected: np.ndarray) -> None:
    """A [1, 1000] answer close to raw's (the same decoded pixels, the same model): else no figure is worth taking."""
    if got.shape != expected.shape:
        raise SystemExit(f"{what}: answered shape {list(got.shape)}, expected {list(expected.shape)}")
    if not np.allclose(got, expected, rtol=0.05, atol=1e-4):
        raise SystemExit(f"{what}: answer differs from raw OpenVINO by up to {np.abs(got - expected).max():.3g}")


def check_answers(rest: str, v2: tuple[bytes, dict], sagemaker: str, data: bytes, json_body: bytes,
                  expected: np.ndarray) -> None:
    """One request per body before timing: wrk counts HTTP statuses only, so a wrong answer must be caught here."""
    for what, body in (("TF Serving REST b64", tfs_b64_body(data)), ("TF Serving REST JSON", json_body)):
        answer, _ = _post(rest + "/v1/models/resnet50:predict", body, {"Content-Type": "application/json"})
        _checked(what, np.asarray(orjson.loads(answer)["predictions"], np.float32), expected)
    body, headers = v2
    answer, reply_headers = _post(rest + "/v2/models/resnet50/infer", body, {"Content-Type": "application/octet-stream",
                                                                             **headers})
    length = int({k.lower(): v for k, v in reply_headers.items()}[HEADER_LENGTH.lower()])
    output = orjson.loads(answer[:length])["outputs"][0]
    values = np.frombuffer(answer[length:], np.float32).reshape(output["shape"])
    _checked("v2 REST binary", values, expected)
    answer, _ = _post(sagemaker, data, {"Content-Type": "image/jpeg"})
    _checked("SageMaker image/jpeg", np.asarray(orjson.loads(answer)["predictions"], np.float32), expected)


def nhwc_compiled(path: Path, properties: dict) -> ov.CompiledModel:
    """The IR with ``NHWC:NCHW`` compiled in, as the server serves it: isolates the transpose from decode and transport."""
    core = ov.Core()
    model = core.read_model(str(path))
    ppp = ov.preprocess.PrePostProcessor(model)
    ppp.input().tensor().set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    return core.compile_model(ppp.build(), "CPU", properties)


def _own_cpu(point_of: Callable[[], Point]) -> Point:
    """A raw point with this process's CPU per inference beside it, comparable with the server's CPU per image."""
    before = loadgen.process_cpu(os.getpid())
    started = time.perf_counter()
    point = point_of()
    inferences = point.rps * (time.perf_counter() - started)
    point.extra["server_cpu_ms_per_req"] = (loadgen.process_cpu(os.getpid()) - before) * 1000 / max(inferences, 1)
    return point


def _sagemaker_endpoint(base: Path) -> Endpoint:
    """``serve`` for the one model folder, its layout from the environment as a SageMaker user would set it.

    Only this process's environment is changed, and only while the endpoint starts: the standalone server reads
    ``OVSERVE_*`` too, and a model flag beside its config.json would stop it.
    """
    os.environ["OVSERVE_LAYOUT"] = LAYOUT
    try:
        return Endpoint(base, max_payload_mb=20)
    finally:
        del os.environ["OVSERVE_LAYOUT"]


def main() -> None:
    args, command = loadgen.load_arguments(__doc__, "bench.image_inputs")
    scratch = Path(tempfile.mkdtemp(prefix="ovserve-bench-img-"))
    base = models.write(scratch / "models")["resnet50"]
    data = jpeg(photo_like())
    tensor = decoded_nhwc(data)
    nchw = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))
    compiled = raw.compile_model(str(base / "1" / "model.xml"), THROUGHPUT)
    nireq = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    expected = next(iter(compiled({0: nchw}).values()))
    transposing = nhwc_compiled(base / "1" / "model.xml", THROUGHPUT)

    config = scratch / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": {
        "name": "resnet50", "base_path": str(base), "layout": LAYOUT, "plugin_config": THROUGHPUT}}]}))
    server = Server(config)
    try:
        endpoint = _sagemaker_endpoint(base)
    except BaseException:
        server.stop()
        raise
    rest, pid = f"http://127.0.0.1:{server.rest}", server.process.pid
    sagemaker, sagemaker_pid = f"http://127.0.0.1:{endpoint.port}/invocations", endpoint.process.pid
    json_body = orjson.dumps({"instances": tensor}, option=orjson.OPT_SERIALIZE_NUMPY)
    v2 = v2_binary_body(data)
    bodies = {  # path: (url, body, content type, extra headers, server pid)
        "TF Serving REST b64 JPEG": (rest + "/v1/models/resnet50:predict", tfs_b64_body(data), "application/json", {}, pid),
        "v2 REST binary JPEG (BYTES)": (rest + "/v2/models/resnet50/infer", v2[0], "application/octet-stream", v2[1], pid),
        "SageMaker image/jpeg": (sagemaker, data, "image/jpeg", {}, sagemaker_pid),
        "TF Serving REST JSON, decoded f32 tensor": (rest + "/v1/models/resnet50:predict", json_body, "application/json", {},
                                                     pid),
    }
    points: dict[tuple[str, int], Callable[[], Point]] = {
        (f"raw async, decoded tensor ({nireq} in flight)", nireq): lambda c=compiled: _own_cpu(
            lambda: raw.async_queue(c, {0: nchw}, args.seconds, nireq)),
        (f"raw async, decoded NHWC tensor, layout compiled in ({nireq} in flight)", nireq): lambda c=transposing: _own_cpu(
            lambda: raw.async_queue(c, {0: tensor}, args.seconds, nireq)),
    }
    sizes = {name: len(body) for name, (_, body, _, _, _) in bodies.items()}
    sizes[f"raw async, decoded tensor ({nireq} in flight)"] = nchw.nbytes
    sizes[f"raw async, decoded NHWC tensor, layout compiled in ({nireq} in flight)"] = tensor.nbytes
    for name, (url, body, content_type, headers, server_pid) in bodies.items():
        for concurrency in (1, 8):
            points[(name, concurrency)] = (lambda u=url, b=body, t=content_type, h=headers, p=server_pid, c=concurrency:
                                           loadgen.wrk(u, b, c, args.seconds, p, t, h))
    try:
        check_answers(rest, v2, sagemaker, data, json_body, expected)
        measured = interleaved(points, args.repeats)
    finally:
        server.stop()
        endpoint.stop()
    publish(render(command, {k: median_point(v) for k, v in measured.items()}, sizes, nireq, len(data)), args.output)
    points.clear()  # the raw points hold compiled models: free OpenVINO's threads before the interpreter exits
    del compiled, transposing


def render(command: str, points: dict[tuple[str, int], Point], sizes: dict[str, int], nireq: int, jpeg_bytes: int) -> str:
    limit = next(p for (name, _), p in points.items() if name.startswith("raw async, decoded tensor"))
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` (images as inputs)\n",
        f"- machine: {os.cpu_count()} cores, OpenVINO {ov.__version__.split('-')[0]}; ResNet-50-shaped IR, NCHW served as "
        f"`layout {LAYOUT}`, PERFORMANCE_HINT=THROUGHPUT in server and raw runs (nireq {nireq}); one {SIZE}x{SIZE} JPEG "
        f"of {jpeg_bytes:,} bytes per request; medians of interleaved repeats",
        "- server CPU ms/image: the serving process's CPU (all its threads, inference included) per answered request; "
        "for raw, this process's CPU per inference\n",
        "| path | concurrency | request bytes | req/s | p50 ms | p99 ms | vs raw async | server CPU ms/image | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, concurrency), point in points.items():
        ratio = point.rps / limit.rps if limit.rps else float("nan")
        extra = point.extra
        lines.append(
            f"| {name} | {concurrency} | {sizes[name]:,} | {point.rps:,.1f} | {point.p50_ms:.2f} | {point.p99_ms:.2f} | "
            f"{ratio:.2f} | {extra.get('server_cpu_ms_per_req', float('nan')):.2f} | {extra.get('errors', '')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
