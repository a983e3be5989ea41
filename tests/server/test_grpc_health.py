"""gRPC health checking and server reflection on real servers, through the official clients.

Health is asked with grpcio-health-checking's own stubs (``grpc_health.v1``),
as Kubernetes probes and balancers ask it; reflection with grpcio-reflection's
Python client, the way grpcurl works: list the services, fetch their
descriptors, build requests from those descriptors alone and call the API.

One server (module scope) serves ``add`` (x + 1, [1, 10]), ``two`` (sum and
product of two [-1, 3] inputs) and ``spare`` (x + 5), polling its folders
every second; every test that changes it puts it back. States that change are
read from Watch streams, which block until the server sends the next state
(a deadline bounds each read), so no test sleeps. A slow-compiling preloaded
model, a model that cannot load and a SIGTERM each get a server of their own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from ovserve.handler.protos import grpc_service_pb2 as v2
from tests import models
from tests.grpc_generated import grpc_service_pb2_grpc
from tests.serverproc import REPO, Server, live_until_done, ready_channel, write_config

TIMEOUT = 60
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
API_SERVICES = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService", "inference.GRPCInferenceService")
X = np.arange(10, dtype=np.float32).reshape(1, 10) / 7
MODELS = {"add": models.add_one(value=1.0), "two": models.two_in_two_out(), "spare": models.add_one(value=5.0)}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grpc_health")


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    config = write_config(root, MODELS)
    yield from live_until_done(Server(["--config_path", str(config), "--file_system_poll_wait_seconds", "1"],
                                      log_path=root / "server.log"))


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    yield from ready_channel(server, TIMEOUT)


@pytest.fixture(scope="module")
def health(channel: grpc.Channel) -> health_pb2_grpc.HealthStub:
    return health_pb2_grpc.HealthStub(channel)


def check(health: health_pb2_grpc.HealthStub, service: str) -> int:
    return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT).status


@contextlib.contextmanager
def watching(health: health_pb2_grpc.HealthStub, service: str) -> Iterator[Iterator[int]]:
    """A Watch stream as the states it sends; each ``next`` waits for the server's next message (within TIMEOUT)."""
    call = health.Watch(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
    try:
        yield (response.status for response in call)
    finally:
        call.cancel()


# ---- health on a serving server --------------------------------------------------------------------------


def test_the_server_its_api_services_and_each_model_are_serving(health: health_pb2_grpc.HealthStub) -> None:
    for service in ("", *API_SERVICES, *MODELS):
        assert check(health, service) == SERVING, service


def test_list_reports_every_service(health: health_pb2_grpc.HealthStub) -> None:
    listed = health.List(health_pb2.HealthListRequest(), timeout=TIMEOUT).statuses
    assert {name: answer.status for name, answer in listed.items()} == dict.fromkeys(("", *API_SERVICES, *MODELS), SERVING)


def test_an_unknown_service_is_not_found_and_the_message_names_what_is_known(health: health_pb2_grpc.HealthStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        check(health, "no-such-model")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    details = caught.value.details()
    assert "'no-such-model'" in details and "'add'" in details and "'inference.GRPCInferenceService'" in details


def test_watching_an_unknown_service_says_service_unknown(health: health_pb2_grpc.HealthStub) -> None:
    with watching(health, "no-such-model") as states:
        assert next(states) == SERVICE_UNKNOWN
    assert check(health, "") == SERVING


def test_unloading_a_model_stops_its_service_and_loading_brings_it_back(
    health: health_pb2_grpc.HealthStub, channel: grpc.Channel
) -> None:
    v2_stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
    with watching(health, "spare") as states:
        assert next(states) == SERVING
        v2_stub.RepositoryModelUnload(v2.RepositoryModelUnloadRequest(model_name="spare"), timeout=TIMEOUT)
        assert next(states) == NOT_SERVING
        assert check(health, "spare") == NOT_SERVING  # known still, so not NOT_FOUND: a probe sees it go down
        assert (check(health, ""), check(health, "add")) == (SERVING, SERVING)  # the models still configured all serve
        v2_stub.RepositoryModelLoad(v2.RepositoryModelLoadRequest(model_name="spare"), timeout=TIMEOUT)
        assert next(states) == SERVING


def test_a_model_whose_version_folder_goes_is_not_serving_until_it_comes_back(
    health: health_pb2_grpc.HealthStub, server: Server, root: Path
) -> None:
    aside = root / "aside"
    with watching(health, "two") as model, watching(health, "") as whole:
        assert (next(model), next(whole)) == (SERVING, SERVING)
        shutil.move(root / "two" / "1", aside)  # the next poll retires version 1: nothing left to serve
        try:
            assert next(model) == NOT_SERVING
            assert next(whole) == NOT_SERVING  # the whole server is not ready while a model cannot serve
            assert server.client.get("/v2/health/ready").status_code == 503  # the same rule as REST's probe
            assert check(health, "add") == SERVING
        finally:
            shutil.move(aside, root / "two" / "1")
        assert (next(model), next(whole)) == (SERVING, SERVING)
    assert server.client.get("/v2/health/ready").status_code == 200


# ---- reflection, the way grpcurl uses it -----------------------------------------------------------------


@pytest.fixture(scope="module")
def reflected(channel: grpc.Channel) -> descriptor_pool.DescriptorPool:
    """A pool that knows only what the server's reflection service tells it."""
    return descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))


def call(channel: grpc.Channel, pool: descriptor_pool.DescriptorPool, service: str, method: str, request_fields: dict):
    """Call ``service/method`` with a request built from reflected descriptors only (``request_fields`` as JSON-like)."""
    described = pool.FindServiceByName(service).methods_by_name[method]
    request_class = message_factory.GetMessageClass(described.input_type)
    response_class = message_factory.GetMessageClass(described.output_type)
    request = json_format.ParseDict(request_fields, request_class())
    rpc = channel.unary_unary(f"/{service}/{method}", request_serializer=request_class.SerializeToString,
                              response_deserializer=response_class.FromString)
    return rpc(request, timeout=TIMEOUT)


def test_reflection_lists_and_describes_every_service(channel: grpc.Channel, reflected: descriptor_pool.DescriptorPool) -> None:
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert sorted(services) == sorted([*API_SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"])
    methods = {service: sorted(reflected.FindServiceByName(service).methods_by_name) for service in services}
    assert methods["tensorflow.serving.PredictionService"] == ["GetModelMetadata", "Predict"]
    assert methods["tensorflow.serving.ModelService"] == ["GetModelStatus"]
    assert {"ModelInfer", "ModelReady", "ServerReady", "RepositoryIndex"} <= set(methods["inference.GRPCInferenceService"])
    assert methods["grpc.health.v1.Health"] == ["Check", "List", "Watch"]


def test_predict_from_reflected_descriptors(channel: grpc.Channel, reflected: descriptor_pool.DescriptorPool) -> None:
    tensor = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "1"}, {"size": "10"}]}, "floatVal": X.ravel().tolist()}
    answer = call(channel, reflected, "tensorflow.serving.PredictionService", "Predict",
                  {"modelSpec": {"name": "add"}, "inputs": {"x": tensor}})
    output = answer.outputs["y"]
    assert [d.size for d in output.tensor_shape.dim] == [1, 10]
    values = np.frombuffer(output.tensor_content, "<f4") if output.tensor_content else np.array(output.float_val, np.float32)
    np.testing.assert_allclose(values.reshape(1, 10), X + 1, rtol=1e-6)
    assert answer.model_spec.name == "add" and answer.model_spec.version.value == 1


def test_model_infer_from_reflected_descriptors(channel: grpc.Channel, reflected: descriptor_pool.DescriptorPool) -> None:
    answer = call(channel, reflected, "inference.GRPCInferenceService", "ModelInfer", {
        "modelName": "spare", "id": "reflected",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": ["1", "10"], "contents": {"fp32Contents": X.ravel().tolist()}}],
    })
    assert (answer.model_name, answer.model_version, answer.id) == ("spare", "1", "reflected")
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.outputs] == [("y", "FP32", [1, 10])]
    np.testing.assert_allclose(np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(1, 10), X + 5, rtol=1e-6)


def test_health_check_from_reflected_descriptors(channel: grpc.Channel, reflected: descriptor_pool.DescriptorPool) -> None:
    answer = call(channel, reflected, "grpc.health.v1.Health", "Check", {"service": "two"})
    states = reflected.FindEnumTypeByName("grpc.health.v1.HealthCheckResponse.ServingStatus")
    assert states.values_by_number[answer.status].name == "SERVING"


# ---- servers of their own: start-up, failed loads, SIGTERM -----------------------------------------------


def test_a_preloaded_model_is_not_serving_until_it_has_compiled(tmp_path: Path) -> None:
    models.write_version(tmp_path / "add", 1, models.add_one())
    models.write_version(tmp_path / "big", 1, models.slow_compile())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [
        {"config": {"name": "add", "base_path": str(tmp_path / "add"), "plugin_config": models.F32}},
        {"config": {"name": "big", "base_path": str(tmp_path / "big"), "plugin_config": models.F32, "preload": True}},
    ]}))
    started = Server(["--config_path", str(config)], log_path=tmp_path / "server.log")
    try:
        with grpc.insecure_channel(started.grpc_target) as channel:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT)  # the port opens before any model is read
            health = health_pb2_grpc.HealthStub(channel)
            with watching(health, "big") as big, watching(health, "") as whole, watching(health, "add") as add:
                assert (next(big), next(whole)) == (NOT_SERVING, NOT_SERVING)  # compiling big takes seconds
                while next(add) != SERVING:  # models load in configuration order: add first, while big waits
                    pass
                assert (check(health, "big"), check(health, "")) == (NOT_SERVING, NOT_SERVING)  # big is compiling now
                assert started.client.get("/v2/health/ready").status_code == 503
                assert next(big) == SERVING
                assert next(whole) == SERVING
            assert started.client.get("/v2/health/ready").status_code == 200
        assert started.process.poll() is None, started.read_log()
    finally:
        started.stop()


def test_a_model_whose_only_version_fails_to_load_stops_serving(start_server, add_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.onnx").write_bytes(b"\x00not an onnx model")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [
        {"config": {"name": "add", "base_path": str(add_repo)}},
        {"config": {"name": "broken", "base_path": str(tmp_path / "broken")}},
    ]}))
    started = start_server("--config_path", str(config))  # lazy loading: broken counts as AVAILABLE until first used
    with grpc.insecure_channel(started.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        with watching(health, "broken") as broken:
            assert next(broken) == SERVING
            response = started.client.post("/v1/models/broken:predict", json={"instances": [1.0]})
            assert response.status_code == 404 and "no version available" in response.json()["error"]
            assert next(broken) == NOT_SERVING
        status = started.client.get("/v1/models/broken").json()["model_version_status"]
        assert [(s["state"], "failed to load" in s["status"]["error_message"]) for s in status] == [("END", True)]
        assert (check(health, ""), check(health, "add")) == (NOT_SERVING, SERVING)


def test_sigterm_turns_everything_not_serving_and_ends_the_watches(start_server, add_repo: Path) -> None:
    started = start_server("--model_name", "add", "--model_path", str(add_repo), "--shutdown_timeout_seconds", "60")
    with grpc.insecure_channel(started.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        with watching(health, "add") as model, watching(health, "") as whole:
            assert (next(model), next(whole)) == (SERVING, SERVING)
            signalled = time.monotonic()
            started.process.send_signal(signal.SIGTERM)
            assert (next(model), next(whole)) == (NOT_SERVING, NOT_SERVING)
            assert list(model) == [] and list(whole) == []  # each stream ends, rather than holding the grace period
        assert started.process.wait(timeout=TIMEOUT) == 0
    assert time.monotonic() - signalled < 30  # far inside the 60 s grace: no open Watch kept the server up
    assert "stopped" in started.read_log()


def test_health_and_reflection_load_only_when_grpc_is_served() -> None:
    """``ovserve.server.main`` imports the gRPC side lazily; health and reflection come with it, not before."""
    code = ("import sys, ovserve.server.main; print(sorted(m.split('.')[0] for m in sys.modules "
            "if m.split('.')[0] in ('grpc', 'grpc_health', 'grpc_reflection')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
