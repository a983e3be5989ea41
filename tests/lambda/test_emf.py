"""CloudWatch Embedded Metric Format lines from the Lambda handler, behind the real emulator; S3 is moto's server.

Each invocation's output (between the emulator's START and END lines) must
hold exactly one EMF document that CloudWatch would extract, with the right
values; and none at all unless a namespace is configured.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import emf_format
from tests.lambda_events import http_v2, s3_put
from tests.lambda_log import Invocation, invocations
from tests.lambdaproc import Emulator

NAMESPACE = "ovserve/tests"
DIMENSIONS = "model,version;interface,status_class"


@pytest.fixture(scope="module")
def function(tmp_path_factory, s3):
    """Versions 1 (adds 1) and 2 (adds 2), both served; metrics on with two dimension sets."""
    from tests import models

    root = tmp_path_factory.mktemp("lambda-emf")
    models.write_version(root / "model", 1, models.add_one(shape=(-1, 3), value=1.0))
    models.write_version(root / "model", 2, models.add_one(shape=(-1, 3), value=2.0))
    emulator = Emulator({"MODEL_PATH": str(root / "model"), "OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}',
                         "OVSERVE_EMF_NAMESPACE": NAMESPACE, "OVSERVE_EMF_DIMENSIONS": DIMENSIONS, **s3.env("emf-secret")},
                        root / "function.log")
    try:
        yield emulator
    finally:
        emulator.stop()


def metrics_of(function: Emulator, count: int) -> list[dict]:
    """The one EMF document of each of the last ``count`` invocations, checked against the EMF rules."""
    done = invocations(function.read_log(tail=None))[-count:]
    assert len(done) == count
    documents = []
    for invocation in done:
        (document,) = invocation.metrics()
        emf_format.check(document, NAMESPACE)
        documents.append(document)
    return documents


def values(document: dict) -> dict:
    return {key: document[key] for key in ("Model", "Version", "Interface", "StatusClass", "Records", "Errors", "status")}


def test_one_line_per_http_invocation_with_its_dimensions_units_and_values(function):
    rows = "\n".join(",".join(str(v) for v in row) for row in np.arange(15).reshape(5, 3))
    events = [
        http_v2("POST", "/v1/models/model:predict", body=json.dumps({"instances": [[1, 2, 3]] * 3}),
                headers={"x-request-id": "emf-0001"}),
        http_v2("POST", "/invocations", body=rows, headers={"Content-Type": "text/csv"}),
        http_v2("POST", "/v1/models/model/versions/1:predict", body=json.dumps({"instances": [[1, 2]]})),
        http_v2("POST", "/v1/models/no-such-model:predict", body=json.dumps({"instances": [[1, 2, 3]]})),
        http_v2("GET", "/ping"),
    ]
    statuses = [function.invoke(event)[1]["statusCode"] for event in events]
    assert statuses == [200, 200, 400, 404, 200]
    predict, csv, bad, unknown, ping = metrics_of(function, len(events))

    directive = predict["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Model", "Version"], ["Interface", "StatusClass"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {"Latency": "Milliseconds", "Records": "Count",
                                                                   "Errors": "Count"}
    assert values(predict) == {"Model": "model", "Version": "2", "Interface": "REST", "StatusClass": "2xx", "Records": 3,
                               "Errors": 0, "status": 200}
    assert predict["request_id"] == "emf-0001" and predict["Latency"] > 0
    assert values(csv) == {**values(predict), "Records": 5}
    # a bad request to a served model counts against the model; no version answered it
    assert values(bad) == {"Model": "model", "Version": "-", "Interface": "REST", "StatusClass": "4xx", "Records": 0,
                           "Errors": 1, "status": 400}
    # a name the caller made up never becomes a dimension value (each would be a billed metric)
    assert values(unknown) == {**values(bad), "Model": "-", "status": 404}
    assert "no-such-model" not in json.dumps(unknown)
    assert values(ping) == {"Model": "-", "Version": "-", "Interface": "REST", "StatusClass": "2xx", "Records": 0,
                            "Errors": 0, "status": 200}


def test_direct_invocations_report_their_version_records_and_errors(function):
    _, answer = function.invoke({"model_version": 1, "instances": [[1, 2, 3], [4, 5, 6]]})
    assert answer == {"predictions": [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]]}
    _, failed = function.invoke({"instances": [[1, 2]]})
    assert failed["errorType"] == "InvalidInput", failed
    ok, error = metrics_of(function, 2)
    assert values(ok) == {"Model": "model", "Version": "1", "Interface": "Invoke", "StatusClass": "2xx", "Records": 2,
                          "Errors": 0, "status": 200}
    assert values(error) == {"Model": "model", "Version": "-", "Interface": "Invoke", "StatusClass": "4xx", "Records": 0,
                             "Errors": 1, "status": 400}
    assert ok["request_id"] == ok["aws_request_id"] != error["request_id"]


def test_s3_events_count_every_objects_records_and_each_failed_object(function, s3):
    s3.create_bucket("emf-inbox")
    client = s3.client()
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    client.put_object(Bucket="emf-inbox", Key="in/rows.csv", Body="\n".join(",".join(str(v) for v in r) for r in rows))
    client.put_object(Bucket="emf-inbox", Key="in/records.jsonl", Body="\n".join(json.dumps(r.tolist()) for r in rows[:4]))
    client.put_object(Bucket="emf-inbox", Key="in/bad.csv", Body="1,2")
    _, answer = function.invoke(s3_put("emf-inbox", "in/rows.csv", "in/records.jsonl"))
    assert [p["records"] for p in answer["processed"]] == [10, 4], answer
    _, failed = function.invoke(s3_put("emf-inbox", "in/bad.csv", "in/rows.csv", "in/missing.csv"))
    assert failed["errorType"] == "BatchFailed" and "2 of 3 objects failed" in failed["errorMessage"], failed
    ok, partial = metrics_of(function, 2)
    assert values(ok) == {"Model": "model", "Version": "2", "Interface": "S3", "StatusClass": "2xx", "Records": 14,
                          "Errors": 0, "status": 200}
    assert values(partial) == {"Model": "model", "Version": "2", "Interface": "S3", "StatusClass": "5xx", "Records": 10,
                               "Errors": 2, "status": 500}
    # the objects' own log lines (INFO) carry the invocation's id: Lambda's, the one its START/END/REPORT lines name
    last: Invocation = invocations(function.read_log(tail=None))[-1]
    objects = [line for line in last.logs() if line["msg"] in ("object processed", "object failed")]
    assert len(objects) == 3 and {line["request_id"] for line in objects} == {last.aws_request_id}, objects
    assert "emf-secret" not in function.read_log(tail=None)


def test_no_metrics_line_unless_a_namespace_is_set(start_function, vector_model):
    function = start_function({"MODEL_PATH": str(vector_model)})
    assert function.invoke({"instances": [[1, 2, 3]]})[1] == {"predictions": [[3.0, 4.0, 5.0]]}
    assert function.invoke(http_v2("POST", "/v1/models/model:predict", body='{"instances": [[1, 2]]}'))[1]["statusCode"] == 400
    done = invocations(function.read_log(tail=None))
    assert len(done) == 2 and all(invocation.metrics() == [] for invocation in done)
    assert "_aws" not in function.read_log(tail=None)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"OVSERVE_EMF_NAMESPACE": "AWS/Lambda"}, "OVSERVE_EMF_NAMESPACE: expected 1 to 255 of"),
        ({"OVSERVE_EMF_NAMESPACE": "my metrics"}, "OVSERVE_EMF_NAMESPACE"),
        ({"OVSERVE_EMF_NAMESPACE": "ovserve", "OVSERVE_EMF_DIMENSIONS": "model,request_id"}, "OVSERVE_EMF_DIMENSIONS: expected"),
    ],
)
def test_bad_metrics_settings_fail_init_naming_the_variable(start_function, vector_model, env, fragment):
    function = start_function({"MODEL_PATH": str(vector_model), **env})
    _, answer = function.invoke({"instances": [[1, 2, 3]]})
    assert answer["errorType"] == "ConfigError" and fragment in answer["errorMessage"], answer
