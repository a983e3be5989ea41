"""Every metric family ovserve can report: OpenVINO Model Server's, by name, help text and labels, and ovserve's own.

OVMS's names, HELP strings, label keys and bucket bounds are copied as facts
(serving-features.md A2), so dashboards and alerts written for OVMS read
ovserve unchanged. OVMS's counters carry no ``_total`` suffix; they keep
their names here. ovserve's own families start with ``ovserve_`` and follow
Prometheus's naming conventions (a counter ends in ``_total``), since no
existing dashboard constrains them.

``DEFAULT`` is what ``--metrics_enable`` reports; ``--metrics_list`` replaces
it with the families it names, any of ``SELECTABLE``. OVMS's MediaPipe
families are accepted in a list, as OVMS accepts them, and report nothing:
ovserve runs no graphs.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"

# OVMS's bounds for every histogram, in µs: floor(10 * 1.8**i) for i = 0..32 (10 µs to about 25 minutes).
OVMS_BUCKETS: tuple[int, ...] = tuple(int(10 * 1.8**i) for i in range(33))
# Rows or requests per inference: batches are counted in powers of two up to the largest batch anyone configures.
BATCH_BUCKETS: tuple[int, ...] = tuple(2**i for i in range(13))


@dataclass(frozen=True)
class Family:
    """One metric family: what ``# HELP`` and ``# TYPE`` say, and the bucket bounds of a histogram."""

    name: str
    kind: str
    help: str
    buckets: tuple[int, ...] = ()


# OVMS's families (labels: api, interface, method, name, version as OVMS sets them; see registry.py).
REQUESTS_SUCCESS = Family("ovms_requests_success", COUNTER, "Number of successful requests to a model or a DAG.")
REQUESTS_FAIL = Family("ovms_requests_fail", COUNTER, "Number of failed requests to a model or a DAG.")
REQUEST_TIME = Family("ovms_request_time_us", HISTOGRAM, "Processing time of requests to a model or a DAG.", OVMS_BUCKETS)
INFERENCE_TIME = Family("ovms_inference_time_us", HISTOGRAM, "Inference execution time in the OpenVINO backend.", OVMS_BUCKETS)
WAIT_TIME = Family("ovms_wait_for_infer_req_time_us", HISTOGRAM, "Request waiting time in the scheduling queue.", OVMS_BUCKETS)
STREAMS = Family("ovms_streams", GAUGE, "Number of OpenVINO execution streams.")
CURRENT_REQUESTS = Family("ovms_current_requests", GAUGE, "Number of inference requests currently in process.")
QUEUE_SIZE = Family("ovms_infer_req_queue_size", GAUGE, "Inference request queue size (nireq).")
ACTIVE = Family("ovms_infer_req_active", GAUGE, "Number of currently consumed inference request from the processing queue.")

# ovserve's own.
MODEL_LOAD_TIME = Family("ovserve_model_load_time_us", HISTOGRAM,
                         "Time to read and compile a model version, by where the compiled model came from (cache or compile).",
                         OVMS_BUCKETS)
MODEL_VERSIONS = Family("ovserve_model_versions", GAUGE, "Number of a model's versions in each state (START, LOADING, AVAILABLE, "
                                                         "UNLOADING, END).")
STORAGE_POLL_FAILURES = Family("ovserve_storage_poll_failures_total", COUNTER,
                               "Number of times a model's storage could not be listed (loaded versions kept serving).")
BATCH_SIZE = Family("ovserve_batch_size", HISTOGRAM, "Rows per inference run by the dynamic batcher, padding included.", BATCH_BUCKETS)
BATCH_REQUESTS = Family("ovserve_batch_requests", HISTOGRAM, "Requests merged into one inference by the dynamic batcher.",
                        BATCH_BUCKETS)

ALL: tuple[Family, ...] = (
    REQUESTS_SUCCESS, REQUESTS_FAIL, REQUEST_TIME, INFERENCE_TIME, WAIT_TIME, STREAMS, CURRENT_REQUESTS, QUEUE_SIZE, ACTIVE,
    MODEL_LOAD_TIME, MODEL_VERSIONS, STORAGE_POLL_FAILURES, BATCH_SIZE, BATCH_REQUESTS,
)
BY_NAME = {family.name: family for family in ALL}

# OVMS's default set (its MediaPipe families aside), then ovserve's own, which cost a few series per model.
DEFAULT: tuple[str, ...] = (
    REQUESTS_SUCCESS.name, REQUESTS_FAIL.name, REQUEST_TIME.name, INFERENCE_TIME.name, WAIT_TIME.name, STREAMS.name,
    CURRENT_REQUESTS.name, MODEL_LOAD_TIME.name, MODEL_VERSIONS.name, STORAGE_POLL_FAILURES.name, BATCH_SIZE.name,
    BATCH_REQUESTS.name,
)
# OVMS's MediaPipe families: valid in a metrics_list, never reported.
MEDIAPIPE: tuple[str, ...] = (
    "ovms_current_graphs", "ovms_requests_accepted", "ovms_requests_rejected", "ovms_responses", "ovms_graph_error",
    "ovms_graph_processing_time_us", "ovms_graph_request_latency_us",
)
SELECTABLE: tuple[str, ...] = (*BY_NAME, *MEDIAPIPE)
