"""The request context: ids taken or made, the engine's notes, counting once at ``end``, and the access line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from ovserve.handler import access_log, metrics, offload, request_context
from ovserve.handler.logs import JsonFormatter
from ovserve.handler.metrics import families as f


@pytest.fixture
def registry() -> Iterator[metrics.Registry]:
    yield metrics.enable(f.DEFAULT, [("KServe", "gRPC", "ModelInfer")], ("gRPC",))
    metrics.disable()


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict]]]:
    """The JSON lines written to the root logger so far (access lines at INFO), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access_log.configure("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(saved)
    access_log.configure(access_log.DEFAULT)


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "has space", "tab\there", "naïve", "new\nline"])
def test_an_unusable_id_is_replaced_by_a_fresh_one(sent: str | None) -> None:
    token = request_context.begin(sent)
    try:
        made = request_context.current().request_id
    finally:
        request_context.end(token)
    assert made != sent and len(made) == 32 and int(made, 16) >= 0
    assert request_context.current() is None


def test_a_usable_id_is_kept() -> None:
    token = request_context.begin("client-7f3e:42")
    assert request_context.current().request_id == "client-7f3e:42" and request_context.current().sent
    request_context.end(token)


def test_an_inference_is_counted_once_at_end_with_the_adapters_labels(registry: metrics.Registry) -> None:
    token = request_context.begin("id-1", "KServe", "gRPC", "ModelInfer", "/inference.GRPCInferenceService/ModelInfer")
    request_context.serving("m", 2, inference=True)
    meter = registry.meter("m", 2)
    assert meter.current.value == 1  # in flight until the answer is sent
    request_context.serving("m", 2)  # a metadata read later in the same request changes nothing
    request_context.end(token, "OK", True, 10, 20)

    assert meter.outcome(True, "KServe", "gRPC", "ModelInfer").value == 1
    assert meter.outcome(False, "KServe", "gRPC", "ModelInfer").value == 0
    assert meter.current.value == 0
    assert meter.request_time("gRPC").count == 1


def test_a_failure_is_counted_as_a_failure_and_an_unnoted_request_not_at_all(registry: metrics.Registry) -> None:
    token = request_context.begin(None, "TensorFlowServing", "REST", "GetModelStatus")
    request_context.serving("m", None)
    request_context.end(token, 404, False)
    token = request_context.begin(None, "TensorFlowServing", "REST", "Predict")  # never reached a model (unknown name)
    request_context.end(token, 404, False)

    assert registry.meter("m", None).outcome(False, "TensorFlowServing", "REST", "GetModelStatus").value == 1
    assert registry.meter("m", None).request_time("REST").count == 0  # only inferences are timed
    assert [key for key in registry._meters] == [("m", None)]


def test_a_v2_body_id_becomes_the_id_only_when_none_was_sent() -> None:
    token = request_context.begin(None)
    request_context.serving("m", 1, inference=True, body_id="body-9")
    assert request_context.current().request_id == "body-9"
    request_context.end(token)
    token = request_context.begin("header-1")
    request_context.serving("m", 1, inference=True, body_id="body-9")
    assert request_context.current().request_id == "header-1"
    request_context.end(token)


def test_the_access_line_names_the_request_and_its_sizes_never_its_body(lines: Callable[[], list[dict]]) -> None:
    token = request_context.begin("abc", "TensorFlowServing", "REST", "Predict", "/v1/models/m:predict", "POST")
    request_context.serving("m", 3, inference=True)
    logging.getLogger("ovserve.test").info("inside the request")
    request_context.end(token, 200, True, 123, 45)
    token = request_context.begin("def", "", "gRPC", "ServerLive", "/inference.GRPCInferenceService/ServerLive")
    request_context.end(token, "OK", True, 0, 2)
    request_context.end(request_context.begin("no-status"))  # an adapter that said nothing of how it ended: no line

    inside, rest, rpc = lines()
    assert inside == {**inside, "msg": "inside the request", "request_id": "abc"}
    assert rest["logger"] == "ovserve.access" and rest["level"] == "INFO"
    assert {key: rest[key] for key in ("request_id", "method", "path", "model", "version", "status", "bytes_in", "bytes_out")} == {
        "request_id": "abc", "method": "POST", "path": "/v1/models/m:predict", "model": "m", "version": 3, "status": 200,
        "bytes_in": 123, "bytes_out": 45}
    assert isinstance(rest["duration_ms"], float) and rest["duration_ms"] >= 0
    assert {key: rpc.get(key) for key in ("request_id", "rpc", "status", "model")} == {
        "request_id": "def", "rpc": "/inference.GRPCInferenceService/ServerLive", "status": "OK", "model": None}


def test_access_lines_are_off_with_off_and_below_the_log_level(lines: Callable[[], list[dict]]) -> None:
    access_log.configure("OFF")
    request_context.end(request_context.begin("a"), 200, True)
    access_log.configure("DEBUG")  # the root logger is at INFO
    request_context.end(request_context.begin("b"), 200, True)
    assert lines() == []


def test_work_moved_to_the_codec_thread_logs_with_the_request_id(lines: Callable[[], list[dict]]) -> None:
    async def main() -> None:
        token = request_context.begin("thread-id")
        try:
            await offload.on_worker(lambda: logging.getLogger("ovserve.test").warning("decoding on a worker"))
        finally:
            request_context.end(token)

    asyncio.run(main())
    assert [(line["msg"], line.get("request_id")) for line in lines()] == [("decoding on a worker", "thread-id")]
