"""Dynamic batching on a real ``serve`` process, enabled by the TF Serving container's ``SAGEMAKER_TFS_*`` variables.

Concurrent ``/invocations`` carrying records (one or a few each; CSV, JSON Lines or a
KServe v2 tensor) share
inferences: the batcher's DEBUG line per inference ("batch inferred") counts
fewer inferences than requests, and every answer equals the same records
inferred alone in-process. Bad variables stop start-up with exit 2 and one line.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests import models
from tests.sagemaker.bodies import answer, only_output, request_body
from tests.server.test_startup_settings import SAGEMAKER, start_up
from tests.serverproc import free_port

WIDTH = 64
RECORDS = np.random.default_rng(5).standard_normal((40, WIDTH)).astype(np.float32)


def _alone(rows: np.ndarray) -> np.ndarray:
    import openvino as ov

    request = ov.Core().compile_model(models.row_work(WIDTH), "CPU", models.F32).create_infer_request()
    return np.concatenate([request.infer({0: rows[i : i + 1]})[0].copy() for i in range(len(rows))])


def batch_lines(log_path: Path) -> list[dict]:
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") in ("batch inferred", "dynamic batching on")]


async def invoke_all(url: str, bodies: list[bytes], content_type: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        return await asyncio.gather(*(client.post("/invocations", content=body, headers=headers) for body in bodies))


def v2_body(rows: np.ndarray) -> bytes:
    """A KServe v2 JSON request for ``rows``: the same /invocations route, told apart by its body."""
    tensor = {"name": "x", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def v2_rows(body: bytes) -> np.ndarray:
    (output,) = json.loads(body)["outputs"]
    return np.array(output["data"], np.float32).reshape(output["shape"])


# Each body kind SageMaker clients send records in: CSV and JSON Lines (one record per line), and a v2 tensor.
KINDS = {
    "csv": ("text/csv", lambda rows: request_body("text/csv", {"x": rows})),
    "jsonlines": ("application/jsonlines", lambda rows: request_body("application/jsonlines", {"x": rows})),
    "v2": ("application/json", v2_body),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_records_from_concurrent_invocations_share_inferences(start_sagemaker, tmp_path, kind):
    models.write_version(tmp_path / "model", 1, models.row_work(WIDTH))
    server = start_sagemaker({
        "OVSERVE_MODEL_PATH": str(tmp_path / "model"), "OVSERVE_NIREQ": "1", "OVSERVE_LOG_LEVEL": "DEBUG",
        "SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_TFS_MAX_BATCH_SIZE": "4",
        "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "2000", "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES": "16",
    })
    expected = _alone(RECORDS)
    spans = [(i, i + 1) for i in range(32)] + [(32, 34), (34, 40)]  # single records, two, and six (> max_batch_size)
    content_type, encode = KINDS[kind]
    bodies = [encode(RECORDS[start:stop]) for start, stop in spans]
    replies = asyncio.run(invoke_all(server.url, bodies, content_type))
    for (start, stop), reply in zip(spans, replies, strict=True):
        assert reply.status_code == 200, reply.text
        got = v2_rows(reply.content) if kind == "v2" else only_output(answer("application/json", reply.content))
        np.testing.assert_array_equal(got.astype(np.float32).reshape(stop - start, WIDTH), expected[start:stop])
    lines = batch_lines(server.log_path)
    (announced,) = [line for line in lines if line["msg"] == "dynamic batching on"]
    assert (announced["max_batch_size"], announced["batch_timeout_micros"], announced["max_enqueued_batches"]) == (4, 2000, 16)
    runs = [line for line in lines if line["msg"] == "batch inferred"]
    assert sum(run["requests"] for run in runs) == len(spans)
    assert len(runs) < len(spans) and any(run["requests"] > 1 for run in runs)
    assert any(run["rows"] == 6 and run["requests"] == 1 for run in runs)  # larger than the maximum: alone, never an error


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"SAGEMAKER_TFS_ENABLE_BATCHING": "yes"}, "ovserve serve: SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false"),
     ({"SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "1ms"},
      "ovserve serve: SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS: expected an integer")],
)
def test_bad_batching_variables_stop_start_up_with_one_line(tmp_path, environ, expected):
    code, lines = start_up(SAGEMAKER, {**environ, "OVSERVE_MODEL_PATH": str(tmp_path), "SAGEMAKER_BIND_TO_PORT": str(free_port())})
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith(expected), lines
