"""While a version is still downloading, every front end says so: real processes, moto's S3, a proxy that holds the download.

The proxy sits between ovserve and moto and holds the one request that
fetches version 1's weights until the test releases it, so "version 1 is
being fetched" is a state the test stands in, not a race it hopes to win.
Meanwhile status shows LOADING on REST and gRPC, predicts are 503 /
UNAVAILABLE (never 404) and the readiness probes answer 503 with the reason.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc
from tests.sagemakerproc import F32_ENV, SageMakerServer
from tests.storage_servers import MotoS3

SECRET = "SECRET-never-logged-9c1d"
HOLD_SECONDS = 60  # a hold the test forgets to release ends on its own
DEADLINE_SECONDS = 60
FETCHING = "version 1 is being fetched from storage"


class HoldingProxy:
    """A TCP proxy to ``upstream_port`` that holds the request whose bytes contain ``pattern`` until ``release``."""

    def __init__(self, upstream_port: int, pattern: bytes) -> None:
        self.upstream_port = upstream_port
        self.pattern = pattern
        self.entered = threading.Event()
        self.released = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="holding-proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                return  # closed
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests and self.pattern in data and not self.released.is_set():
                    self.entered.set()
                    self.released.wait(HOLD_SECONDS)
                target.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def held_bucket(tmp_path) -> Iterator[tuple[MotoS3, HoldingProxy, dict]]:
    """moto with version 1 of ``add`` in s3://models/add, a proxy holding its weights' download, and the env to use it."""
    store = MotoS3()
    proxy = HoldingProxy(store.port, b"GET /models/add/1/model.bin")
    try:
        store.create_bucket("models")
        store.upload_model("models", "add", 1, models.add_one(value=1.0), tmp_path)
        yield store, proxy, {**store.env(SECRET), "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{proxy.port}"}
    finally:
        proxy.close()
        store.stop()


def wait_for(condition, what: str, process, log) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, f"timed out waiting for {what}: {log()}"
        time.sleep(0.02)


def x_tensor() -> tensor_pb2.TensorProto:
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, np.zeros((1, 10), np.float32))
    return message


def test_while_version_one_downloads_rest_and_grpc_say_loading_and_503_never_404(held_bucket, start_server, tmp_path):
    _, proxy, env = held_bucket
    server = start_server("--model_name", "add", "--model_path", "s3://models/add",
                          "--storage_cache_dir", str(tmp_path / "cache"), env=env, wait=False)
    wait_for(proxy.entered.is_set, "the download of version 1's weights", server.process, server.read_log)

    status = server.client.get("/v1/models/add")
    predict = server.client.post("/v1/models/add:predict", json={"instances": [[0.0] * 10]})
    pinned = server.client.post("/v1/models/add/versions/1:predict", json={"instances": [[0.0] * 10]})
    ready = server.client.get("/v2/health/ready")
    with grpc.insecure_channel(server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=DEADLINE_SECONDS)
        spec = serving_apis_pb2.ModelSpec(name="add")
        grpc_status = serving_services_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            serving_apis_pb2.GetModelStatusRequest(model_spec=spec), timeout=DEADLINE_SECONDS)
        request = serving_apis_pb2.PredictRequest(model_spec=spec)
        request.inputs["x"].CopyFrom(x_tensor())
        with pytest.raises(grpc.RpcError) as grpc_predict:
            serving_services_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=DEADLINE_SECONDS)
    proxy.release()
    server.wait_live(DEADLINE_SECONDS)  # /v2/health/ready turns 200 once version 1 has arrived
    after = server.client.post("/v1/models/add:predict", json={"instances": [[0.0] * 10]})

    assert status.status_code == 200 and status.json()["model_version_status"] == [
        {"version": "1", "state": "LOADING", "status": {"error_code": "OK", "error_message": ""}}]
    assert predict.status_code == 503 and FETCHING in predict.json()["error"], predict.text
    assert pinned.status_code == 503 and FETCHING in pinned.json()["error"], pinned.text
    assert ready.status_code == 503 and FETCHING in ready.json()["error"], ready.text
    [row] = grpc_status.model_version_status
    assert (row.version, row.state) == (1, serving_apis_pb2.ModelVersionStatus.LOADING)
    assert grpc_predict.value.code() == grpc.StatusCode.UNAVAILABLE and FETCHING in grpc_predict.value.details()
    assert after.status_code == 200 and after.json()["predictions"][0][0] == 1.0
    assert SECRET not in server.read_log()


def test_sagemaker_ping_is_503_naming_the_download_until_the_model_can_serve(held_bucket, tmp_path):
    _, proxy, env = held_bucket
    server = SageMakerServer({**F32_ENV, **env, "OVSERVE_MODEL_PATH": "s3://models/add",
                              "OVSERVE_STORAGE_CACHE_DIR": str(tmp_path / "cache")}, tmp_path / "serve.log")
    try:
        wait_for(proxy.entered.is_set, "the download of version 1's weights", server.process, server.read_log)
        ping = server.client.get("/ping")
        invocation = server.client.post("/invocations", content=b"[[0,0,0,0,0,0,0,0,0,0]]",
                                        headers={"Content-Type": "application/json"})
        proxy.release()
        server.wait_ready(DEADLINE_SECONDS)
        after = server.client.post("/invocations", content=b"[[0,0,0,0,0,0,0,0,0,0]]",
                                   headers={"Content-Type": "application/json"})
    finally:
        server.stop()
    assert ping.status_code == 503 and FETCHING in ping.json()["error"], ping.text
    assert invocation.status_code == 503 and FETCHING in invocation.json()["error"], invocation.text
    assert after.status_code == 200 and after.json() == {"predictions": [[1.0] * 10]}, after.text
