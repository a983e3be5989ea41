"""``GET /metrics`` on a real ``ovserve``: OVMS's families move by exactly the requests made, per API and interface.

One module server (``--preload``), metrics enabled through config.json's
``monitoring`` with every family listed: ``add`` (x + 1, [1, 10], nireq 2),
``idle`` (never asked: its zero series show what OVMS pre-creates) and
``batched`` (dynamic batching). Every scrape is parsed with
prometheus_client's text parser, and counts are compared as differences
between two scrapes, so the tests do not depend on each other's traffic.
Other servers check metrics turned off, a gRPC-only server, the load
source (compile, then the cache) and storage polls failing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import openvino as ov
import pytest

from ovserve.handler.metrics.families import BY_NAME, OVMS_BUCKETS
from tests import models
from tests.metrics_scrape import Scrape, scrape
from tests.server.api_calls import GRPC, KSERVE, REST, TFS, Clients, bad, good
from tests.server.test_startup_settings import STANDALONE, start_up
from tests.serverproc import Server, free_port, live_until_done, ready_channel
from tests.storage_servers import MotoS3

NIREQ = 2


@dataclass
class Served:
    server: Server
    clients: Clients

    def scrape(self) -> Scrape:
        return scrape(self.server.client)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("metrics")
    entries = []
    for name, extra in (("add", {"nireq": NIREQ}), ("idle", {}), ("batched", {"batching": {"max_batch_size": 8}})):
        models.write_version(root / name, 1, models.add_one(shape=(-1, 10)) if name == "batched" else models.add_one())
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32, **extra}})
    config = root / "config.json"
    monitoring = {"metrics": {"enable": True, "metrics_list": list(BY_NAME)}}
    config.write_text(json.dumps({"model_config_list": entries, "monitoring": monitoring}))
    for live in live_until_done(Server(["--config_path", str(config), "--preload"], log_path=root / "server.log")):
        for channel in ready_channel(live):
            yield Served(live, Clients.of(live.client, channel))


def outcome_labels(api: str, interface: str, method: str, model: str) -> dict[str, str]:
    """A success or fail series' labels, as OVMS sets them."""
    labels = {"api": api, "interface": interface, "method": method, "name": model}
    return labels if method in ("GetModelStatus", "ModelReady") else {**labels, "version": "1"}


def counts(scraped: Scrape, model: str = "add") -> dict[tuple[str, str, str, str], float]:
    """Every success and fail series of ``model``: (result, api, interface, method) -> value."""
    found = {}
    for family, result in (("ovms_requests_success", "success"), ("ovms_requests_fail", "fail")):
        for sample in scraped.samples(family):
            if sample.labels["name"] == model:
                found[(result, sample.labels["api"], sample.labels["interface"], sample.labels["method"])] = sample.value
    return found


def test_counters_move_by_exactly_the_requests_made_per_api_interface_and_method(served: Served) -> None:
    made = {key: 1 + index % 3 for index, key in enumerate(good("add"))}  # 1, 2 or 3 of each
    before = served.scrape()

    for key, call in good("add").items():
        for _ in range(made[key]):
            call(served.clients)
    after = served.scrape()

    old, new = counts(before), counts(after)
    assert {key: new[key] - old[key] for key in new if new[key] != old[key]} == {("success", *key): n for key, n in made.items()}
    inferences = {interface: sum(n for (api, i, method), n in made.items() if i == interface and method in ("Predict", "ModelInfer"))
                  for interface in (REST, GRPC)}
    for interface, number in inferences.items():
        labels = {"interface": interface, "name": "add", "version": "1"}
        assert after.value("ovms_request_time_us", "_count", **labels) - before.value("ovms_request_time_us", "_count", **labels) == number
    for family in ("ovms_inference_time_us", "ovms_wait_for_infer_req_time_us"):
        labels = {"name": "add", "version": "1"}
        assert after.value(family, "_count", **labels) - before.value(family, "_count", **labels) == sum(inferences.values())


def test_failures_count_as_failures_and_unknown_names_never_become_series(served: Served) -> None:
    before = served.scrape()

    for call in bad("add").values():
        call(served.clients)
    assert served.server.client.post("/v1/models/nope:predict", json={"instances": [[1.0]]}).status_code == 404
    assert served.server.client.post("/v1/models/add/versions/7:predict", json={"instances": [[1.0]]}).status_code == 404
    after = served.scrape()

    old, new = counts(before), counts(after)
    assert {key: new[key] - old[key] for key in new if new[key] != old[key]} == {("fail", *key): 1 for key in bad("add")}
    assert 'name="nope"' not in after.text and 'version="7"' not in after.text


def test_histograms_have_ovms_buckets_cumulative_up_to_the_count(served: Served) -> None:
    good("add")[(TFS, REST, "Predict")](served.clients)
    scraped = served.scrape()

    for family, labels in (("ovms_request_time_us", {"interface": REST, "name": "add", "version": "1"}),
                           ("ovms_inference_time_us", {"name": "add", "version": "1"}),
                           ("ovms_wait_for_infer_req_time_us", {"name": "add", "version": "1"}),
                           ("ovserve_model_load_time_us", {"name": "add", "source": "compile"})):
        buckets = scraped.buckets(family, **labels)
        assert [le for le, _ in buckets] == [str(bound) for bound in OVMS_BUCKETS] + ["+Inf"], family
        values = [count for _, count in buckets]
        assert values == sorted(values), family
        assert values[-1] == scraped.value(family, "_count", **labels) >= 1, family
        assert scraped.value(family, "_sum", **labels) >= 0, family
    assert scraped.value("ovserve_model_load_time_us", "_count", name="add", source="compile") == 1


def test_a_version_never_asked_has_ovms_zero_series(served: Served) -> None:
    scraped = served.scrape()

    series = counts(scraped, "idle")
    ovms_methods = {(TFS, "Predict"), (TFS, "GetModelMetadata"), (TFS, "GetModelStatus"), (KSERVE, "ModelInfer"),
                    (KSERVE, "ModelMetadata"), (KSERVE, "ModelReady")}
    assert set(series) == {(result, api, interface, method) for result in ("success", "fail") for api, method in ovms_methods
                           for interface in (REST, GRPC)}
    assert set(series.values()) == {0}
    success = [s.labels for s in scraped.samples("ovms_requests_success") if s.labels["name"] == "idle"]
    assert outcome_labels(TFS, GRPC, "GetModelStatus", "idle") in success  # status methods have no version, as in OVMS
    assert outcome_labels(KSERVE, REST, "ModelInfer", "idle") in success
    for interface in (REST, GRPC):
        assert scraped.value("ovms_request_time_us", "_count", interface=interface, name="idle", version="1") == 0
    assert scraped.value("ovms_current_requests", name="idle", version="1") == 0


def test_state_gauges_read_the_loaded_model(served: Served) -> None:
    compiled = ov.Core().compile_model(models.add_one(), "CPU", models.F32)

    scraped = served.scrape()

    labels = {"name": "add", "version": "1"}
    assert scraped.value("ovms_streams", **labels) == int(compiled.get_property("NUM_STREAMS")) >= 1
    assert scraped.value("ovms_infer_req_queue_size", **labels) == NIREQ
    assert scraped.value("ovms_infer_req_active", **labels) == 0
    assert scraped.value("ovms_current_requests", **labels) == 0
    states = {s.labels["state"]: s.value for s in scraped.samples("ovserve_model_versions") if s.labels["name"] == "add"}
    assert states == {"START": 0, "LOADING": 0, "AVAILABLE": 1, "UNLOADING": 0, "END": 0}
    assert scraped.families["ovserve_storage_poll_failures"].samples == []  # local folders always list


def test_the_batcher_reports_every_request_in_exactly_one_inference(served: Served) -> None:
    request = good("batched")[(TFS, REST, "Predict")]
    before = served.scrape()

    for _ in range(3):
        request(served.clients)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: request(served.clients), range(16)))
    after = served.scrape()

    labels = {"name": "batched", "version": "1"}
    merged = after.value("ovserve_batch_requests", "_sum", **labels) - (before.value("ovserve_batch_requests", "_sum", **labels) or 0)
    rows = after.value("ovserve_batch_size", "_sum", **labels) - (before.value("ovserve_batch_size", "_sum", **labels) or 0)
    inferences = after.value("ovserve_batch_size", "_count", **labels) - (before.value("ovserve_batch_size", "_count", **labels) or 0)
    assert merged == rows == 19  # one row each, no padding for a model of any batch size
    assert 1 <= inferences <= 19
    assert after.value("ovms_inference_time_us", "_count", **labels) - before.value("ovms_inference_time_us", "_count", **labels) \
        == inferences


def test_metrics_take_get_only_and_ignore_the_query(served: Served) -> None:
    client = served.server.client
    assert client.get("/metrics?name=add").status_code == 200
    refused = client.post("/metrics")
    assert refused.status_code == 405 and "POST" in refused.json()["error"]


def test_metrics_off_answer_ovms_invalid_url_naming_the_flag(tmp_path: Path) -> None:
    models.write_version(tmp_path / "m", 1, models.add_one())
    for live in live_until_done(Server(["--model_name", "m", "--model_path", str(tmp_path / "m"), "--plugin_config",
                                        json.dumps(models.F32)], log_path=tmp_path / "server.log")):
        answer = live.client.get("/metrics")
        assert answer.status_code == 400
        assert answer.json() == {"error": "Invalid request URL: metrics are not enabled; start the server with --metrics_enable "
                                          "(or config.json's monitoring.metrics.enable)"}


def test_a_grpc_only_server_with_metrics_stops_saying_they_live_on_the_rest_port(tmp_path: Path) -> None:
    code, lines = start_up([*STANDALONE, "--model_name", "m", "--model_path", str(tmp_path), "--port", str(free_port()),
                            "--metrics_enable"], {})
    assert (code, lines) == (2, ["ovserve: --metrics_enable: rest_port setting is missing, metrics are enabled on rest port; "
                                 "expected --rest_port as well: GET /metrics is served on the REST port, a gRPC-only server "
                                 "(--rest_port 0) has none"])


def test_load_source_is_compile_then_the_cache(tmp_path: Path) -> None:
    models.write_version(tmp_path / "m", 1, models.add_one())
    args = ["--model_name", "m", "--model_path", str(tmp_path / "m"), "--cache_dir", str(tmp_path / "cache"), "--preload",
            "--metrics_enable", "--plugin_config", json.dumps(models.F32)]
    sources = []
    for run in range(2):
        for live in live_until_done(Server(args, log_path=tmp_path / f"server{run}.log")):
            scraped = scrape(live.client)
            sources.append({s.labels["source"]: s.value for s in scraped.samples("ovserve_model_load_time_us", "_count")})
    assert sources == [{"compile": 1}, {"cache": 1}]


def test_storage_poll_failures_are_counted_while_loaded_versions_serve(tmp_path: Path) -> None:
    store = MotoS3()
    try:
        store.create_bucket("models")
        store.upload_model("models", "m", 1, models.add_one(), tmp_path)
        server = Server(["--model_name", "m", "--model_path", store.url("models", "m"), "--metrics_enable", "--preload",
                         "--file_system_poll_wait_seconds", "1", "--plugin_config", json.dumps(models.F32),
                         "--storage_cache_dir", str(tmp_path / "cache")], env=store.env("testing"), log_path=tmp_path / "server.log")
        for live in live_until_done(server):
            assert scrape(live.client).value("ovserve_storage_poll_failures", name="m") is None
            store.stop()
            deadline = time.monotonic() + 60
            while (scrape(live.client).value("ovserve_storage_poll_failures", name="m") or 0) < 2:
                assert time.monotonic() < deadline, live.read_log()
                time.sleep(0.2)
            assert live.client.post("/v1/models/m:predict", json={"instances": [[0.0] * 10]}).status_code == 200
    finally:
        store.stop()

