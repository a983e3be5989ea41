"""Request ids on a real ``ovserve``: taken from ``x-request-id`` (or made), echoed, and on every log line of the request.

One module server with ``--log_level DEBUG --access_log INFO``: ``add`` (x + 1,
[1, 10]) and ``batched`` (the same with dynamic batching, whose DEBUG line per
inference is written inside the request that ran it, so a request has a
line of its own beside its access line). REST echoes the id in the
``x-request-id`` header, gRPC in the call's trailing metadata; a KServe v2
body's ``id`` becomes the id when no header or metadata carries one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from ovserve.handler.protos import grpc_service_pb2 as v2pb
from tests import models
from tests.server.api_calls import ROW, Clients, tfs_request, v2_json, v2_request
from tests.serverproc import Server, live_until_done, ready_channel

TIMEOUT = 30
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Served:
    server: Server
    clients: Clients
    log_path: Path

    def lines(self, request_id: str) -> list[dict]:
        """Every log line carrying ``request_id``."""
        parsed = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]
        return [line for line in parsed if line.get("request_id") == request_id]

    def access(self, request_id: str) -> dict:
        [line] = [line for line in self.lines(request_id) if line["logger"] == "ovserve.access"]
        return line


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("request_ids")
    entries = []
    for name, extra in (("add", {}), ("batched", {"batching": {"max_batch_size": 8}})):
        models.write_version(root / name, 1, models.add_one(shape=(-1, 10)) if extra else models.add_one())
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32, **extra}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    log_path = root / "server.log"
    server = Server(["--config_path", str(config), "--preload", "--log_level", "DEBUG", "--access_log", "INFO"], log_path=log_path)
    for live in live_until_done(server):
        for channel in ready_channel(live):
            yield Served(live, Clients.of(live.client, channel), log_path)


def test_rest_takes_the_id_echoes_it_and_puts_it_on_every_line_of_the_request(served: Served) -> None:
    body = json.dumps({"instances": [ROW]}).encode()
    answer = served.server.client.post("/v1/models/batched:predict", content=body, headers={"x-request-id": "rest-1"})

    assert answer.status_code == 200 and answer.headers["x-request-id"] == "rest-1"
    lines = served.lines("rest-1")
    assert [line["msg"] for line in lines] == ["batch inferred", "request"]
    access = served.access("rest-1")
    assert {key: access[key] for key in ("method", "path", "model", "version", "status", "bytes_out")} == {
        "method": "POST", "path": "/v1/models/batched:predict", "model": "batched", "version": 1, "status": 200,
        "bytes_out": len(answer.content)}
    assert access["bytes_in"] == len(body) and access["duration_ms"] >= 0


@pytest.mark.parametrize("sent", [None, "x" * 129, "two words"])
def test_rest_makes_an_id_when_none_or_an_unusable_one_is_sent(served: Served, sent: str | None) -> None:
    headers = {"x-request-id": sent} if sent else {}
    answer = served.server.client.get("/v1/models/add", headers=headers)

    made = answer.headers["x-request-id"]
    assert HEX_ID.match(made) and made != sent
    assert served.access(made)["status"] == 200


def test_rest_errors_and_unknown_paths_carry_the_id_too(served: Served) -> None:
    client = served.server.client
    refused = client.post("/v1/models/add:predict", content=b"{not json", headers={"x-request-id": "bad-json"})
    unknown = client.get("/nowhere", headers={"x-request-id": "no-route"})

    assert (refused.status_code, refused.headers["x-request-id"]) == (400, "bad-json")
    assert (unknown.status_code, unknown.headers["x-request-id"]) == (404, "no-route")
    assert served.access("bad-json")["status"] == 400 and "model" not in served.access("bad-json")  # refused before the model
    assert served.access("no-route")["status"] == 404 and "model" not in served.access("no-route")


def test_a_v2_body_id_is_the_id_unless_a_header_says_otherwise(served: Served) -> None:
    client = served.server.client
    by_body = client.post("/v2/models/add/infer", json={**v2_json(), "id": "body-7"})
    by_header = client.post("/v2/models/add/infer", json={**v2_json(), "id": "body-8"}, headers={"x-request-id": "header-8"})

    assert by_body.headers["x-request-id"] == "body-7" and by_body.json()["id"] == "body-7"
    assert by_header.headers["x-request-id"] == "header-8" and by_header.json()["id"] == "body-8"  # the protocol's field stays
    assert served.access("body-7")["path"] == "/v2/models/add/infer" and served.access("header-8")["status"] == 200


def test_grpc_takes_the_id_from_metadata_and_echoes_it_in_trailing_metadata(served: Served) -> None:
    _, call = served.clients.predictions.Predict.with_call(tfs_request("batched"), metadata=(("x-request-id", "grpc-1"),),
                                                          timeout=TIMEOUT)

    assert dict(call.trailing_metadata())["x-request-id"] == "grpc-1"
    assert [line["msg"] for line in served.lines("grpc-1")] == ["batch inferred", "request"]
    access = served.access("grpc-1")
    assert {key: access[key] for key in ("rpc", "model", "version", "status")} == {
        "rpc": "/tensorflow.serving.PredictionService/Predict", "model": "batched", "version": 1, "status": "OK"}
    assert access["bytes_in"] == tfs_request("batched").ByteSize() and access["bytes_out"] > 0


def test_a_failed_grpc_call_carries_the_id_and_its_code(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.clients.predictions.Predict(tfs_request("add", 3), metadata=(("x-request-id", "grpc-bad"),), timeout=TIMEOUT)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(caught.value.trailing_metadata())["x-request-id"] == "grpc-bad"
    assert served.access("grpc-bad")["status"] == "INVALID_ARGUMENT"


def test_grpc_makes_an_id_or_takes_a_v2_request_id(served: Served) -> None:
    _, made = served.clients.v2.ModelReady.with_call(v2pb.ModelReadyRequest(name="add"), timeout=TIMEOUT)
    _, adopted = served.clients.v2.ModelInfer.with_call(v2_request("add", request_id="v2-grpc-3"), timeout=TIMEOUT)

    made_id = dict(made.trailing_metadata())["x-request-id"]
    assert HEX_ID.match(made_id) and served.access(made_id)["rpc"] == "/inference.GRPCInferenceService/ModelReady"
    assert dict(adopted.trailing_metadata())["x-request-id"] == "v2-grpc-3"
    assert served.access("v2-grpc-3")["model"] == "add"


def test_no_line_carries_a_payload(served: Served) -> None:
    marker = 98765.4321
    served.server.client.post("/v1/models/add:predict", json={"instances": [[marker] * 10]}, headers={"x-request-id": "payload"})

    assert served.access("payload")["status"] == 200
    assert "98765" not in served.log_path.read_text()


def test_access_lines_are_debug_by_default(tmp_path: Path) -> None:
    models.write_version(tmp_path / "m", 1, models.add_one())
    args = ["--model_name", "m", "--model_path", str(tmp_path / "m"), "--plugin_config", json.dumps(models.F32)]
    for live in live_until_done(Server(args, log_path=tmp_path / "server.log")):
        answer = live.client.post("/v1/models/m:predict", json={"instances": [ROW]}, headers={"x-request-id": "quiet"})
        assert answer.headers["x-request-id"] == "quiet"
        assert '"ovserve.access"' not in (tmp_path / "server.log").read_text()
