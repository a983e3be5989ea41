"""Direct invocations and S3 batch events through the real emulator; S3 is moto's server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.lambda_events import s3_put
from tests.storage_servers import MotoS3

X = np.array([[1, 2, 3], [4.5, 5, 6]], dtype=np.float32)


@pytest.fixture(scope="module")
def s3():
    server = MotoS3()
    try:
        yield server
    finally:
        server.stop()


def test_direct_invocations_return_tf_serving_json(start_function, vector_model):
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}'})
    status, answer = function.invoke({"instances": X.tolist()})
    assert status == 200 and np.allclose(answer["predictions"], X + 2)
    _, answer = function.invoke({"model_name": "model", "model_version": 1, "inputs": {"x": X.tolist()}})
    assert np.allclose(answer["outputs"], X + 1)


@pytest.mark.parametrize(
    ("event", "error_type", "fragment"),
    [
        ({"instances": [[1, 2]]}, "InvalidInput", "Invalid input shape"),
        ({"model_name": "nope", "instances": [[1, 2, 3]]}, "NotFound", "nope"),
        ({"model_version": "x", "instances": [[1, 2, 3]]}, "NotFound", "positive integers"),
        ({"something": "else"}, "InvalidInput", "neither"),
        ([1, 2, 3], "InvalidInput", "JSON list"),
    ],
)
def test_direct_invocation_errors_raise_with_their_type(start_function, vector_model, event, error_type, fragment):
    function = start_function({"MODEL_PATH": str(vector_model)})
    status, answer = function.invoke(event)
    assert answer["errorType"] == error_type and fragment in answer["errorMessage"], answer
    status, answer = function.invoke({"instances": [[0, 0, 0]]})
    assert answer == {"predictions": [[2.0, 2.0, 2.0]]}  # the environment survives its errors


def test_s3_objects_become_out_objects_under_the_output_prefix(start_function, vector_model, s3, tmp_path):
    s3.create_bucket("inbox")
    client = s3.client()
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    client.put_object(Bucket="inbox", Key="input/day 1/rows.csv", Body="\n".join(",".join(str(v) for v in r) for r in rows))
    client.put_object(Bucket="inbox", Key="input/records.jsonl", Body="\n".join(json.dumps(r.tolist()) for r in rows[:4]))
    function = start_function({"MODEL_PATH": str(vector_model), **s3.env("s3-secret-value")})
    status, answer = function.invoke(s3_put("inbox", "input/day 1/rows.csv", "input/records.jsonl",
                                            "ovserve-output/input/records.jsonl.out"))
    assert status == 200 and [p["records"] for p in answer["processed"]] == [10, 4], answer
    assert answer["skipped"] == ["s3://inbox/ovserve-output/input/records.jsonl.out"]
    csv_out = client.get_object(Bucket="inbox", Key="ovserve-output/input/day 1/rows.csv.out")
    assert csv_out["ContentType"] == "text/csv"
    got = np.loadtxt(csv_out["Body"].read().decode().splitlines(), delimiter=",")
    assert np.allclose(got, rows + 2)
    lines = client.get_object(Bucket="inbox", Key="ovserve-output/input/records.jsonl.out")["Body"].read().decode().splitlines()
    assert np.allclose([json.loads(line) for line in lines], rows[:4] + 2)
    assert "s3-secret-value" not in function.read_log()


def test_a_bad_object_fails_the_event_after_the_others_are_done(start_function, vector_model, s3):
    s3.create_bucket("mixed")
    client = s3.client()
    client.put_object(Bucket="mixed", Key="in/good.csv", Body="1,2,3")
    client.put_object(Bucket="mixed", Key="in/bad.csv", Body="1,2")
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_OUTPUT_BUCKET": "results", **s3.env("x")})
    s3.create_bucket("results")
    _, answer = function.invoke(s3_put("mixed", "in/bad.csv", "in/good.csv", "in/missing.csv"))
    assert answer["errorType"] == "BatchFailed", answer
    assert "2 of 3 objects failed" in answer["errorMessage"] and "takes 3 per record" in answer["errorMessage"]
    assert "in/missing.csv" in answer["errorMessage"]
    assert client.get_object(Bucket="results", Key="ovserve-output/in/good.csv.out")["Body"].read() == b"3.0,4.0,5.0"


def test_a_model_in_s3_is_fetched_into_the_scratch_folder_and_served(start_function, s3, tmp_path):
    s3.create_bucket("models")
    s3.upload_model("models", "adder", 1, models.add_one(shape=(-1, 3), value=5.0), tmp_path)
    cache = tmp_path / "scratch-models"
    function = start_function({"MODEL_PATH": "s3://models/adder", "OVSERVE_STORAGE_CACHE_DIR": str(cache), **s3.env("k")})
    for _ in range(2):
        _, answer = function.invoke({"instances": [[0, 1, 2]]})
        assert answer == {"predictions": [[5.0, 6.0, 7.0]]}
    assert any(p.name == "model.bin" for p in Path(cache).rglob("*"))
