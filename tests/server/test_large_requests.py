"""Requests that declare far more than they carry, and answers far larger than their requests (issue 12: 9, 10).

One real server serves ``add`` (f32 [1, 10]), ``int_sum`` (i64 [-1, 4]),
``echo`` (strings [-1]) and ``zeros`` (Broadcast: the output's shape is the
input's values). A 30-byte gRPC request may declare gigabytes through one
value and a shape; it must be refused before anything is expanded, which the
server's peak RSS (VmHWM) shows. An output too large to write as JSON must be
refused by name before any of it is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from ovserve.handler.protos import serving_apis_pb2
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc
from tests.server.test_grpc_errors import TIMEOUT, expect_error, outputs_of, predict_request, tensor, typed
from tests.serverproc import Server, serving, write_config

INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Far below the gigabytes the requests below would have cost, far above a small request's working memory.
GROWTH_BOUND_MB = 300


def builders() -> dict:
    return {"add": models.add_one(), "int_sum": models.int_sum(), "echo": models.strings_echo(),
            "zeros": models.broadcast_zeros()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("large"), builders()) as started:
        yield started


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    """A server of its own: its peak RSS shows only what this test's request cost."""
    with serving(tmp_path, builders()) as started:
        yield started


def stub(server: Server) -> Iterator[serving_services_pb2_grpc.PredictionServiceStub]:
    with grpc.insecure_channel(server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        yield serving_services_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def predictions(server: Server) -> Iterator[serving_services_pb2_grpc.PredictionServiceStub]:
    yield from stub(server)


@pytest.fixture
def fresh_predictions(fresh: Server) -> Iterator[serving_services_pb2_grpc.PredictionServiceStub]:
    yield from stub(fresh)


def peak_rss_mb(server: Server) -> float:
    """The server process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def refused_within_memory(server: Server, predictions, request: serving_apis_pb2.PredictRequest, fragment: str) -> str:
    before = peak_rss_mb(server)
    details = expect_error(lambda: predictions.Predict(request, timeout=TIMEOUT), INVALID, fragment)
    growth = peak_rss_mb(server) - before
    assert growth < GROWTH_BOUND_MB, f"peak RSS grew by {growth:.0f} MiB for a {request.ByteSize()}-byte request"
    return details


def test_one_string_declaring_30_million_elements_is_refused_without_expanding(fresh: Server, fresh_predictions) -> None:
    request = predict_request("echo", {"text": typed(7, [30_000_000], "string_val", [b"a"])})
    details = refused_within_memory(fresh, fresh_predictions, request, "more than the")
    assert "30000000 elements of DT_STRING" in details
    echoed = outputs_of(fresh_predictions.Predict(predict_request("echo", {"text": tensor(np.array([b"ok", b"fine"]))}), timeout=TIMEOUT))
    assert echoed["text"].tolist() == [b"ok", b"fine"]


def test_one_float_in_a_shape_the_model_refuses_is_refused_before_filling(fresh: Server, fresh_predictions) -> None:
    request = predict_request("add", {"x": typed(1, [67_108_864, 4], "float_val", [1.0])})  # 1 GiB once filled
    details = refused_within_memory(fresh, fresh_predictions, request, "Invalid input shape for 'x'")
    assert "Obtained shape [67108864, 4], required shape [1, 10]" in details


def test_one_float_filling_gigabytes_of_the_model_type_is_refused(fresh: Server, fresh_predictions) -> None:
    request = predict_request("int_sum", {"values": typed(1, [67_108_864, 4], "float_val", [1.0])})  # 2 GiB as i64
    refused_within_memory(fresh, fresh_predictions, request, "input 'values': shape [67108864, 4] declares 268435456 elements")


def test_a_fill_that_fits_is_expanded_and_answered(server: Server, predictions) -> None:
    request = predict_request("int_sum", {"values": typed(3, [200_000, 4], "int_val", [3])})  # 6.4 MB: on a worker thread
    total = outputs_of(predictions.Predict(request, timeout=TIMEOUT))["total"]
    assert total.dtype == np.int64 and total.shape == (200_000,) and set(total.tolist()) == {12}


def test_an_output_too_large_for_json_is_refused_naming_the_setting(server: Server) -> None:
    reply = server.client.post("/v1/models/zeros:predict", json={"inputs": [5000, 4000]})  # 20M floats: ~300 MB of JSON
    assert reply.status_code == 413, reply.text[:300]
    message = reply.json()["error"]
    assert "--rest_max_response_mb" in message and "268435456 bytes" in message, message
    small = server.client.post("/v1/models/zeros:predict", json={"inputs": [2, 3]})
    assert small.status_code == 200 and small.json() == {"outputs": [[0.0] * 3] * 2}


def test_a_large_answer_within_the_limit_is_written(server: Server) -> None:
    reply = server.client.post("/v1/models/zeros:predict", json={"inputs": [1000, 1000]})  # 1M floats, written off the loop
    assert reply.status_code == 200, reply.text[:300]
    assert np.asarray(reply.json()["outputs"]).shape == (1000, 1000)


def test_large_json_bodies_are_decoded_and_answered(server: Server) -> None:
    values = np.arange(400_000 * 4, dtype=np.int64).reshape(-1, 4) % 1000  # ~6 MB of JSON: parsed off the loop
    reply = server.client.post("/v1/models/int_sum:predict", json={"inputs": values.tolist()})
    assert reply.status_code == 200, reply.text[:300]
    assert reply.json()["outputs"] == values.sum(axis=1).tolist()


def test_the_answer_limit_is_a_setting(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"zeros": models.broadcast_zeros()})
    started = Server(["--config_path", str(config), "--rest_max_response_mb", "1"], log_path=tmp_path / "server.log")
    try:
        started.wait_live()
        reply = started.client.post("/v1/models/zeros:predict", json={"inputs": [300, 300]})  # 90k floats: ~1.4 MB
        assert reply.status_code == 413 and "1048576 bytes --rest_max_response_mb" in reply.json()["error"], reply.text
        assert started.client.post("/v1/models/zeros:predict", json={"inputs": [100, 100]}).status_code == 200
    finally:
        started.stop()
