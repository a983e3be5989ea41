"""The metrics registry and its text: OVMS's names, help, labels, buckets and layout, read back by prometheus_client's parser."""

from __future__ import annotations

import threading

from prometheus_client.parser import text_string_to_metric_families

from ovserve.handler.metrics import families as f
from ovserve.handler.metrics.registry import Registry
from ovserve.handler.metrics.text import render

# serving-features.md A2: OVMS's 33 bounds, in µs.
OVMS_BOUNDS = [10, 18, 32, 58, 104, 188, 340, 612, 1101, 1983, 3570, 6426, 11568, 20822, 37481, 67466, 121439, 218591, 393464,
               708235, 1274823, 2294682, 4130428, 7434771, 13382588, 24088659, 43359586, 78047255, 140485060, 252873108,
               455171596, 819308872, 1474755971]
HELP = {
    "ovms_requests_success": "Number of successful requests to a model or a DAG.",
    "ovms_requests_fail": "Number of failed requests to a model or a DAG.",
    "ovms_request_time_us": "Processing time of requests to a model or a DAG.",
    "ovms_inference_time_us": "Inference execution time in the OpenVINO backend.",
    "ovms_wait_for_infer_req_time_us": "Request waiting time in the scheduling queue.",
    "ovms_streams": "Number of OpenVINO execution streams.",
    "ovms_infer_req_queue_size": "Inference request queue size (nireq).",
    "ovms_infer_req_active": "Number of currently consumed inference request from the processing queue.",
    "ovms_current_requests": "Number of inference requests currently in process.",
}


def parsed(registry: Registry) -> dict:
    return {family.name: family for family in text_string_to_metric_families(render(registry).decode())}


def test_ovms_bucket_bounds_help_strings_and_default_set_are_ovms_own() -> None:
    assert list(f.OVMS_BUCKETS) == OVMS_BOUNDS
    assert {name: f.BY_NAME[name].help for name in HELP} == HELP
    ovms_defaults = {"ovms_requests_success", "ovms_requests_fail", "ovms_request_time_us", "ovms_inference_time_us",
                     "ovms_wait_for_infer_req_time_us", "ovms_streams", "ovms_current_requests"}
    assert ovms_defaults <= set(f.DEFAULT)
    assert {"ovms_infer_req_queue_size", "ovms_infer_req_active"}.isdisjoint(f.DEFAULT)  # optional in OVMS too


def test_counters_keep_ovms_names_and_labels_print_alphabetically() -> None:
    registry = Registry(f.DEFAULT)
    meter = registry.meter("resnet", 1)
    for _ in range(4):
        meter.outcome(True, "TensorFlowServing", "gRPC", "Predict").value += 1
    registry.meter("resnet", None).outcome(False, "KServe", "REST", "ModelReady").value += 1

    text = render(registry).decode()

    assert ('ovms_requests_success{api="TensorFlowServing",interface="gRPC",method="Predict",name="resnet",version="1"} 4'
            in text.splitlines())
    assert 'ovms_requests_fail{api="KServe",interface="REST",method="ModelReady",name="resnet"} 1' in text.splitlines()
    assert "# TYPE ovms_requests_success counter" in text and "_total" not in text.replace("ovserve_storage_poll_failures_total", "")
    assert "_created" not in text
    families = parsed(registry)
    assert families["ovms_requests_success"].type == "counter"
    assert [(s.labels, s.value) for s in families["ovms_requests_success"].samples] == [
        ({"api": "TensorFlowServing", "interface": "gRPC", "method": "Predict", "name": "resnet", "version": "1"}, 4)]


def test_histogram_prints_count_sum_then_cumulative_buckets_with_le_last() -> None:
    registry = Registry(f.DEFAULT)
    histogram = registry.meter("m", 2).request_time("REST")
    for micros in (5, 10, 11, 2_000, 2e9):
        histogram.observe(micros)

    lines = [line for line in render(registry).decode().splitlines() if line.startswith("ovms_request_time_us")]

    assert lines[0] == 'ovms_request_time_us_count{interface="REST",name="m",version="2"} 5'
    assert lines[1] == 'ovms_request_time_us_sum{interface="REST",name="m",version="2"} 2000002026'
    assert lines[2] == 'ovms_request_time_us_bucket{interface="REST",name="m",version="2",le="10"} 2'  # <= 10 counts 10
    assert lines[-1] == 'ovms_request_time_us_bucket{interface="REST",name="m",version="2",le="+Inf"} 5'
    samples = parsed(registry)["ovms_request_time_us"].samples
    buckets = [s for s in samples if s.name.endswith("_bucket")]
    assert [s.labels["le"] for s in buckets] == [str(b) for b in OVMS_BOUNDS] + ["+Inf"]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and counts[-1] == 5  # cumulative, and +Inf is the count
    assert dict(zip([s.labels["le"] for s in buckets], counts, strict=True))["1983"] == 3
    assert dict(zip([s.labels["le"] for s in buckets], counts, strict=True))["3570"] == 4


def test_a_family_left_out_of_the_list_is_neither_stored_nor_printed() -> None:
    registry = Registry(["ovms_requests_success", "ovms_infer_req_active"])
    meter = registry.meter("m", 1)
    meter.outcome(False, "KServe", "gRPC", "ModelInfer").value += 1  # fail is not enabled: counted into a detached value
    meter.inference.observe(50)

    families = parsed(registry)

    assert set(families) == {"ovms_requests_success", "ovms_infer_req_active"}
    assert families["ovms_requests_success"].samples == []


def test_precreate_makes_ovms_zero_series_versions_for_inference_and_none_for_status_methods() -> None:
    outcomes = [("TensorFlowServing", "REST", "Predict"), ("TensorFlowServing", "REST", "GetModelStatus")]
    registry = Registry(f.DEFAULT, outcomes, ("REST",))
    registry.meter("m", 3).precreate(registry.outcomes, registry.interfaces)
    registry.meter("m", None).precreate(registry.outcomes, ())
    registry.meter("m", 3).precreate(registry.outcomes, registry.interfaces)  # once only

    families = parsed(registry)

    success = [(s.labels["method"], s.labels.get("version"), s.value) for s in families["ovms_requests_success"].samples]
    assert success == [("Predict", "3", 0), ("GetModelStatus", None, 0)]
    assert len(families["ovms_requests_fail"].samples) == 2
    assert {s.labels["interface"] for s in families["ovms_request_time_us"].samples} == {"REST"}


def test_label_values_are_escaped_so_the_parser_reads_them_back() -> None:
    registry = Registry(f.DEFAULT)
    name = 'odd "model" \\ name'
    registry.meter(name, 1).outcome(True, "SageMaker", "REST", "Invocations").value += 1

    sample = parsed(registry)["ovms_requests_success"].samples[0]

    assert sample.labels["name"] == name


def test_forget_model_drops_its_series_and_keeps_the_others() -> None:
    registry = Registry(f.DEFAULT)
    for name in ("gone", "kept"):
        registry.meter(name, 1).outcome(True, "SageMaker", "REST", "Invocations").value += 1
        registry.model_loaded(name, 0.5, from_cache=False)

    registry.forget_model("gone")

    text = render(registry).decode()
    assert 'name="gone"' not in text and text.count('name="kept"') > 3
    assert registry.meter("gone", 1).outcome(True, "SageMaker", "REST", "Invocations").value == 0  # a fresh start


def test_model_loads_from_many_threads_are_all_counted_by_source() -> None:
    registry = Registry(f.DEFAULT)
    threads = [threading.Thread(target=lambda i=i: [registry.model_loaded("m", 0.01, from_cache=i % 2 == 0) for _ in range(500)])
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    samples = parsed(registry)["ovserve_model_load_time_us"].samples
    counts = {s.labels["source"]: s.value for s in samples if s.name.endswith("_count")}
    assert counts == {"cache": 1000, "compile": 1000}


def test_batch_histograms_appear_with_the_first_batch_and_use_powers_of_two() -> None:
    registry = Registry(f.DEFAULT)
    meter = registry.meter("m", 1)
    assert "ovserve_batch_size_count" not in render(registry).decode()

    meter.observe_batch(3, 8)

    families = parsed(registry)
    rows = {s.labels["le"]: s.value for s in families["ovserve_batch_size"].samples if s.name.endswith("_bucket")}
    assert (rows["4"], rows["8"], rows["+Inf"]) == (0, 1, 1)
    merged = {s.labels["le"]: s.value for s in families["ovserve_batch_requests"].samples if s.name.endswith("_bucket")}
    assert (merged["2"], merged["4"]) == (0, 1)
