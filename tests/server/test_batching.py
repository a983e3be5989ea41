"""Server-side dynamic batching against a real ``ovserve`` process, over all four protocols.

One module-scoped server (``--log_level DEBUG``) serves from a config.json in f32:
``work`` (``row_work``: rows independent, a few hundred µs an inference; one
infer request, so a burst queues behind the running inference and merges;
``max_batch_size`` 8), ``fixed`` (x + 1 with a fixed batch of 4: padded),
``allowed`` (x + 1, any batch, ``allowed_batch_sizes`` [2, 4, 8]) and ``plain``
(``work`` again with batching off, the unbatched answer over the wire).

Merging is observed through the batcher's DEBUG line per inference ("batch
inferred", with how many requests and rows it held): fewer lines than requests
means requests shared inferences. Every answer is compared with the same
input inferred alone in-process: ``row_work`` is bit-identical whatever the batch.
Other servers check the ``--enable_batching`` route, a model that cannot be
batched, and that bad settings stop start-up with exit 2 and one line.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import grpc_service_pb2 as v2pb
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import models
from tests.grpc_generated import grpc_service_pb2_grpc, serving_services_pb2_grpc
from tests.server.test_startup_settings import STANDALONE, start_up
from tests.serverproc import Server, free_port, live_until_done, ready_channel

TIMEOUT = 60
WIDTH = 256
BURST = 48  # requests per burst: six times max_batch_size, from as many concurrent clients
PATIENCE_MICROS = 20_000_000  # a 20 s window: a lone request must never wait for it
ROWS = np.random.default_rng(3).standard_normal((BURST, WIDTH)).astype(np.float32)


def _alone(model, rows: np.ndarray) -> np.ndarray:
    """Each row inferred on its own, in-process: the unbatched answer."""
    import openvino as ov

    request = ov.Core().compile_model(model, "CPU", models.F32).create_infer_request()
    return np.concatenate([request.infer({0: rows[i : i + 1]})[0].copy() for i in range(len(rows))])


EXPECTED = _alone(models.row_work(WIDTH), ROWS)


def write_repository(root: Path) -> Path:
    entries = []
    for name, model, extra in [
        ("work", models.row_work(WIDTH), {"nireq": 1, "batching": {"max_batch_size": 8, "batch_timeout_micros": 2000}}),
        ("plain", models.row_work(WIDTH), {"nireq": 1}),
        ("fixed", models.add_one(shape=(4, 10)), {"batching": {}}),
        ("allowed", models.add_one(shape=(-1, 10)), {"batching": {"max_batch_size": 8, "allowed_batch_sizes": [2, 4, 8]}}),
        ("tight", models.row_work(WIDTH), {"nireq": 1, "batching": {"max_batch_size": 1, "max_enqueued_batches": 1}}),
        ("patient", models.add_one(shape=(-1, 10)), {"batching": {"batch_timeout_micros": PATIENCE_MICROS}}),
    ]:
        models.write_version(root / name, 1, model)
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32, **extra}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    return config


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("batching")
    started = Server(["--config_path", str(write_repository(root)), "--log_level", "DEBUG", "--preload"], log_path=root / "server.log")
    yield from live_until_done(started)


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    yield from ready_channel(server, TIMEOUT)


def inferences(server: Server, label: str) -> list[dict]:
    """The batcher's DEBUG lines for ``label`` ("work v1") so far: one per inference."""
    assert server.log_path is not None
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == "batch inferred" and line.get("model") == label]


# ---------------------------------------------------------------- one request, per protocol


def tfs_rest(client: httpx.AsyncClient, model: str, rows: np.ndarray) -> asyncio.Future:
    async def call() -> tuple[int, object]:
        response = await client.post(f"/v1/models/{model}:predict", json={"instances": rows.tolist()})
        body = response.json()
        return response.status_code, (np.array(body["predictions"], np.float32) if response.status_code == 200 else body)
    return asyncio.ensure_future(call())


def v2_rest(client: httpx.AsyncClient, model: str, rows: np.ndarray) -> asyncio.Future:
    async def call() -> tuple[int, object]:
        body = {"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
        response = await client.post(f"/v2/models/{model}/infer", json=body)
        answer = response.json()
        if response.status_code != 200:
            return response.status_code, answer
        output = answer["outputs"][0]
        return 200, np.array(output["data"], np.float32).reshape(output["shape"])
    return asyncio.ensure_future(call())


async def rest_burst(server: Server, send, model: str, inputs: list[np.ndarray]) -> list[tuple[int, object]]:
    """Every input as its own request, all at once (asyncio.gather over one connection pool)."""
    limits = httpx.Limits(max_connections=len(inputs), max_keepalive_connections=len(inputs))
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT, limits=limits) as client:
        return await asyncio.gather(*(send(client, model, rows) for rows in inputs))


def grpc_burst(channel: grpc.Channel, protocol: str, model: str, inputs: list[np.ndarray]) -> list[tuple[int, object]]:
    """Every input as its own RPC, all in flight at once (``.future``), answers in order."""
    if protocol == "tfs":
        stub = serving_services_pb2_grpc.PredictionServiceStub(channel)
        futures = []
        for rows in inputs:
            request = serving_apis_pb2.PredictRequest()
            request.model_spec.name = model
            message = tensor_pb2.TensorProto()
            tensor_proto.fill(message, rows)
            request.inputs["x"].CopyFrom(message)
            futures.append(stub.Predict.future(request, timeout=TIMEOUT))
        decode = lambda answer: tensor_proto.to_array("y", answer.outputs["y"])  # noqa: E731
    else:
        v2 = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
        futures = []
        for rows in inputs:
            request = v2pb.ModelInferRequest(model_name=model)
            request.inputs.add(name="x", datatype="FP32", shape=rows.shape)
            request.raw_input_contents.append(rows.astype("<f4").tobytes())
            futures.append(v2.ModelInfer.future(request, timeout=TIMEOUT))
        decode = lambda answer: np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(tuple(answer.outputs[0].shape))  # noqa: E731
    answers: list[tuple[int, object]] = []
    for future in futures:
        try:
            answers.append((200, decode(future.result())))
        except grpc.RpcError as error:
            answers.append((400 if error.code() == grpc.StatusCode.INVALID_ARGUMENT else 500, f"{error.code().name}: {error.details()}"))
    return answers


def burst(server: Server, channel: grpc.Channel, protocol: str, model: str, inputs: list[np.ndarray]) -> list:
    if protocol == "tfs_rest":
        return asyncio.run(rest_burst(server, tfs_rest, model, inputs))
    if protocol == "v2_rest":
        return asyncio.run(rest_burst(server, v2_rest, model, inputs))
    return grpc_burst(channel, protocol.removesuffix("_grpc"), model, inputs)


PROTOCOLS = ["tfs_rest", "v2_rest", "tfs_grpc", "v2_grpc"]


# ---------------------------------------------------------------- merging, answers, failures


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_burst_of_single_rows_is_merged_and_every_answer_is_its_own(server, channel, protocol):
    before = inferences(server, "work v1")
    answers = burst(server, channel, protocol, "work", [ROWS[i : i + 1] for i in range(BURST)])
    for index, (status, answer) in enumerate(answers):
        assert status == 200, answer
        np.testing.assert_array_equal(answer, EXPECTED[index : index + 1])
    runs = inferences(server, "work v1")[len(before) :]
    assert sum(run["requests"] for run in runs) == BURST
    assert len(runs) < BURST, runs  # requests shared inferences
    assert max(run["rows"] for run in runs) <= 8  # max_batch_size
    assert any(run["requests"] > 1 for run in runs)


def test_batched_answers_equal_the_unbatched_server(server, channel):
    inputs = [ROWS[i : i + 1] for i in range(16)]
    batched = burst(server, channel, "tfs_grpc", "work", inputs)
    plain = burst(server, channel, "tfs_grpc", "plain", inputs)
    assert inferences(server, "plain v1") == []  # no batcher in front of a model without "batching"
    for (status, answer), (plain_status, plain_answer) in zip(batched, plain, strict=True):
        assert (status, plain_status) == (200, 200)
        np.testing.assert_array_equal(answer, plain_answer)


@pytest.mark.parametrize("protocol", ["tfs_rest", "v2_grpc"])
def test_a_bad_request_in_a_burst_fails_alone(server, channel, protocol):
    inputs: list[np.ndarray] = [ROWS[i : i + 1] for i in range(24)]
    inputs[11] = ROWS[11:12, : WIDTH - 1]  # one column short: checked before it may join a batch
    answers = burst(server, channel, protocol, "work", inputs)
    status, message = answers[11]
    assert status == 400, message
    assert str(WIDTH - 1) in str(message) and str(WIDTH) in str(message), message
    for index, (status, answer) in enumerate(answers):
        if index != 11:
            assert status == 200, answer
            np.testing.assert_array_equal(answer, EXPECTED[index : index + 1])


def test_a_request_larger_than_max_batch_size_is_answered_alongside_others(server, channel):
    inputs = [ROWS[:20], *(ROWS[i : i + 1] for i in range(20, 30)), ROWS[30:41]]
    before = inferences(server, "work v1")
    answers = burst(server, channel, "v2_rest", "work", inputs)
    assert [status for status, _ in answers] == [200] * len(inputs)
    np.testing.assert_array_equal(answers[0][1], EXPECTED[:20])
    np.testing.assert_array_equal(answers[-1][1], EXPECTED[30:41])
    runs = inferences(server, "work v1")[len(before) :]
    assert {20, 11} <= {run["rows"] for run in runs if run["requests"] == 1}  # each ran on its own, unpadded


def test_a_fixed_batch_model_takes_fewer_rows_padded(server, channel):
    x = np.arange(40, dtype=np.float32).reshape(4, 10) / 3
    inputs = [x[:1], x[1:3], x[3:4], x[:4]]
    answers = burst(server, channel, "tfs_grpc", "fixed", inputs)
    for (status, answer), rows in zip(answers, inputs, strict=True):
        assert status == 200, answer
        np.testing.assert_array_equal(answer, rows + 1)
    status, answer = burst(server, channel, "v2_rest", "fixed", [x[2:3]])[0]  # alone: 1 row padded with 3
    assert status == 200, answer
    np.testing.assert_array_equal(answer, x[2:3] + 1)
    runs = inferences(server, "fixed v1")
    assert all(run["rows"] + run["padded_rows"] == 4 for run in runs), runs
    assert (runs[-1]["rows"], runs[-1]["padded_rows"]) == (1, 3)
    status, body = asyncio.run(rest_burst(server, tfs_rest, "fixed", [np.zeros((5, 10), np.float32)]))[0]
    assert status == 400 and "1:4" in body["error"], body  # more rows than the fixed batch: still the client's error
    metadata = server.client.get("/v1/models/fixed/metadata").json()  # metadata shows the model as it is
    shape = metadata["metadata"]["signature_def"]["signatureDef"]["serving_default"]["inputs"]["x"]["tensorShape"]
    assert shape["dim"][0]["size"] == "4"


def test_allowed_batch_sizes_pad_to_the_next_size(server, channel):
    x = np.arange(30, dtype=np.float32).reshape(3, 10)
    before = inferences(server, "allowed v1")
    status, answer = burst(server, channel, "v2_grpc", "allowed", [x])[0]
    assert status == 200, answer
    np.testing.assert_array_equal(answer, x + 1)
    (run,) = inferences(server, "allowed v1")[len(before) :]
    assert (run["rows"], run["padded_rows"]) == (3, 1)


def test_the_batcher_is_announced_with_its_settings(server):
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    announced = {line["model"]: line for line in lines if line.get("msg") == "dynamic batching on"}
    assert set(announced) == {"work v1", "fixed v1", "allowed v1", "patient v1", "tight v1"}
    assert (announced["work v1"]["max_batch_size"], announced["work v1"]["batch_timeout_micros"]) == (8, 2000)
    assert announced["fixed v1"]["fixed_batch"] == 4
    assert announced["allowed v1"]["allowed_batch_sizes"] == [2, 4, 8]


def test_a_full_queue_answers_503_and_resource_exhausted_as_the_pools_queue_does(server, channel):
    inputs = [ROWS[i : i + 1] for i in range(BURST)]
    for protocol, refused in (("tfs_rest", 503), ("tfs_grpc", 500)):  # grpc_burst maps RESOURCE_EXHAUSTED to 500
        answers = burst(server, channel, protocol, "tight", inputs)
        statuses = {status for status, _ in answers}
        assert statuses == {200, refused}, answers  # one batch runs, one waits: the rest are refused at once
        for index, (status, answer) in enumerate(answers):
            if status == 200:
                np.testing.assert_array_equal(answer, EXPECTED[index : index + 1])
            else:
                assert "batches already wait" in str(answer) and "max_enqueued_batches" in str(answer), answer
                assert protocol == "tfs_rest" or str(answer).startswith("RESOURCE_EXHAUSTED"), answer


def test_a_lone_request_on_an_idle_model_does_not_wait_for_the_window(server, channel):
    x = np.ones((1, 10), np.float32)
    for _ in range(3):  # each request alone, one after another: the model is idle every time
        started = time.monotonic()
        status, answer = burst(server, channel, "tfs_grpc", "patient", [x])[0]
        assert status == 200 and np.array_equal(answer, x + 1), answer
        assert time.monotonic() - started < PATIENCE_MICROS / 1e6 / 10


def test_requests_cancelled_in_a_burst_leave_the_others_answered(server, channel):
    stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    futures = []
    for index in range(32):
        request = v2pb.ModelInferRequest(model_name="work")
        request.inputs.add(name="x", datatype="FP32", shape=[1, WIDTH])
        request.raw_input_contents.append(ROWS[index : index + 1].astype("<f4").tobytes())
        futures.append(stub.ModelInfer.future(request, timeout=TIMEOUT))
    for future in futures[1::2]:
        future.cancel()  # wherever each one is by now (sent, queued in a batch, running): the rest are unaffected
    for index, future in enumerate(futures):
        if index % 2 == 0:
            answer = future.result()
            got = np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(1, WIDTH)
            np.testing.assert_array_equal(got, EXPECTED[index : index + 1])
    status, answer = burst(server, channel, "tfs_rest", "work", [ROWS[:1]])[0]
    assert status == 200 and np.array_equal(answer, EXPECTED[:1])


# ---------------------------------------------------------------- the server-wide route and start-up checks


def test_enable_batching_with_a_parameters_file_applies_to_every_model_without_its_own_key(tmp_path):
    models.write_version(tmp_path / "work", 1, models.row_work(WIDTH))
    models.write_version(tmp_path / "off", 1, models.add_one(shape=(-1, 10)))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [
        {"config": {"name": "work", "base_path": "work", "plugin_config": models.F32, "nireq": 1}},
        {"config": {"name": "off", "base_path": "off", "plugin_config": models.F32, "batching": False}},
    ]}))
    parameters = tmp_path / "batching.pbtxt"
    parameters.write_text("max_batch_size { value: 4 }\nbatch_timeout_micros { value: 500 }\n")
    started = Server(["--config_path", str(config), "--enable_batching", "--batching_parameters_file", str(parameters),
                      "--log_level", "DEBUG", "--preload"], log_path=tmp_path / "server.log")
    try:
        started.wait_live()
        with grpc.insecure_channel(started.grpc_target) as channel:
            answers = grpc_burst(channel, "tfs", "work", [ROWS[i : i + 1] for i in range(16)])
            off = grpc_burst(channel, "tfs", "off", [np.ones((2, 10), np.float32)])
        assert off == [(200, off[0][1])] and np.array_equal(off[0][1], np.full((2, 10), 2, np.float32))
        for index, (status, answer) in enumerate(answers):
            assert status == 200, answer
            np.testing.assert_array_equal(answer, EXPECTED[index : index + 1])
        runs = inferences(started, "work v1")
        assert len(runs) < 16 and max(run["rows"] for run in runs) <= 4
        assert inferences(started, "off v1") == []
    finally:
        assert started.stop() == 0


def test_a_model_that_cannot_be_batched_says_why(tmp_path):
    models.write_version(tmp_path / "sum", 1, models.batch_sum())
    started = Server(["--model_name", "sum", "--model_path", str(tmp_path / "sum"), "--enable_batching"],
                     log_path=tmp_path / "server.log")
    try:
        started.wait_live()
        response = started.client.post("/v1/models/sum:predict", json={"instances": [[1, 2, 3, 4]]})
        assert response.status_code == 404, response.text  # the version failed to load: nothing to serve
        status = started.client.get("/v1/models/sum").json()["model_version_status"][0]["status"]
        assert status["error_message"].startswith("failed to load: batching: output 'total' always has 4 rows"), status
        assert "does not carry the batch dimension" in status["error_message"], status
    finally:
        started.stop()


@pytest.mark.parametrize(
    ("args", "config_batching", "expected"),
    [
        (["--batching_parameters_file", "x.pbtxt"], None,
         "ovserve: --batching_parameters_file: given without --enable_batching; expected both, or neither"),
        (["--enable_batching", "--batching_parameters_file", "{dir}/bad.pbtxt"], None,
         "ovserve: --batching_parameters_file {dir}/bad.pbtxt: line 1: "),
        ([], {"max_batch_size": "8"}, "ovserve: model_config_list[0].config.batching.max_batch_size: expected an integer"),
        ([], {"max_batch_size": 8, "allowed_batch_sizes": [2, 4]},
         "ovserve: model_config_list[0].config.batching.allowed_batch_sizes: expected a strictly increasing list"),
        ([], {"timeout": 1}, "ovserve: model_config_list[0].config.batching: unknown key 'timeout'"),
    ],
)
def test_bad_batching_settings_stop_start_up_with_one_line(tmp_path, args, config_batching, expected):
    (tmp_path / "bad.pbtxt").write_text("max_batch_size: 8\n")
    entry = {"name": "m", "base_path": "m"}
    if config_batching is not None:
        entry["batching"] = config_batching
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": entry}]}))
    command = [*STANDALONE, "--config_path", str(config), "--rest_port", str(free_port()), *(a.format(dir=tmp_path) for a in args)]
    code, lines = start_up(command, {})
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith(expected.format(dir=tmp_path)), lines


