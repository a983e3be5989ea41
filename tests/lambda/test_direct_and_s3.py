"""Direct invocations and S3 batch events through the real emulator; S3 is moto's server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.lambda_events import s3_put

X = np.array([[1, 2, 3], [4.5, 5, 6]], dtype=np.float32)


def test_direct_invocations_return_tf_serving_json(start_function, vector_model):
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_MODEL_VERSION_POLICY": '{"all": {}}'})
    status, answer = function.invoke({"instances": X.tolist()})
    assert status == 200 and np.allclose(answer["predictions"], X + 2)
    _, answer = function.invoke({"model_name": "model", "model_version": 1, "inputs": {"x": X.tolist()}})
    assert np.allclose(answer["outputs"], X + 1)


@pytest.fixture(scope="module")
def direct_function(tmp_path_factory):
    """One function for every bad direct invocation: each must leave the environment answering."""
    from tests.lambdaproc import Emulator

    root = tmp_path_factory.mktemp("lambda-direct")
    models.write_version(root / "model", 1, models.add_one(shape=(-1, 3), value=1.0))
    models.write_version(root / "model", 2, models.add_one(shape=(-1, 3), value=2.0))
    emulator = Emulator({"MODEL_PATH": str(root / "model")}, root / "function.log")
    try:
        yield emulator
    finally:
        emulator.stop()


def _nested(depth: int) -> list:
    value: list = [1.0]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("event", "error_type", "fragment"),
    [
        ({"instances": [[1, 2]]}, "InvalidInput", "Invalid input shape"),
        ({"model_name": "nope", "instances": [[1, 2, 3]]}, "NotFound", "nope"),
        ({"model_version": "x", "instances": [[1, 2, 3]]}, "NotFound", "positive integers"),
        ({"something": "else"}, "InvalidInput", "neither"),
        ([1, 2, 3], "InvalidInput", "JSON list"),
        ({"instances": [[18446744073709551616, 1, 2, 3]]}, "InvalidInput", '"instances" holds an integer outside the 64-bit'),
        ({"inputs": {"x": _nested(300)}}, "InvalidInput", '"inputs" is nested more than 254 levels'),
        ({"model_name": 0, "instances": [[1, 2, 3]]}, "InvalidInput", '"model_name" is a JSON int'),
        ({"model_name": "", "instances": [[1, 2, 3]]}, "InvalidInput", '"model_name" is an empty string'),
        ({"model_name": ["model"], "instances": [[1, 2, 3]]}, "InvalidInput", '"model_name" is a JSON list'),
    ],
)
def test_direct_invocation_errors_raise_with_their_type(direct_function, event, error_type, fragment):
    status, answer = direct_function.invoke(event)
    assert answer["errorType"] == error_type and fragment in answer["errorMessage"], answer
    status, answer = direct_function.invoke({"instances": [[0, 0, 0]]})
    assert answer == {"predictions": [[2.0, 2.0, 2.0]]}  # the environment survives its errors


def test_a_direct_answer_larger_than_lambda_returns_raises_payload_too_large(direct_function):
    # 400,000 instances: 3.2 MB of request, 6.8 MB of answer once awslambdaric writes it
    status, answer = direct_function.invoke({"instances": [[0, 1, 2]] * 400_000})
    assert status == 200 and answer.get("errorType") == "PayloadTooLarge", str(answer)[:300]
    assert "Lambda returns at most" in answer["errorMessage"]
    _, answer = direct_function.invoke({"instances": [[0, 0, 0]]})
    assert answer == {"predictions": [[2.0, 2.0, 2.0]]}
    assert direct_function.cold_starts() == 1  # no runtime crash, so no second cold start


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


def test_a_model_key_the_file_system_cannot_hold_fails_init_naming_the_cause(start_function, s3, tmp_path):
    """Issue 12, item 18: the init error says "File name too long", not "no model files" or a version stuck LOADING."""
    s3.create_bucket("models")
    s3.upload_model("models", "adder", 1, models.add_one(shape=(-1, 3)), tmp_path)
    s3.client().put_object(Bucket="models", Key=f"adder/1/{'v' * 300}.txt", Body=b"vocabulary")
    function = start_function({"MODEL_PATH": "s3://models/adder", "OVSERVE_STORAGE_CACHE_DIR": str(tmp_path / "cache"),
                               **s3.env("k")})
    _, answer = function.invoke({"instances": [[0, 1, 2]]})
    assert answer["errorType"] == "ConfigError", answer
    assert "version 1 failed to load" in answer["errorMessage"] and "File name too long" in answer["errorMessage"], answer


def test_malformed_s3_records_fail_inside_the_per_object_accounting(start_function, vector_model, s3):
    s3.create_bucket("records")
    client = s3.client()
    client.put_object(Bucket="records", Key="in/good.csv", Body="1,2,3")
    function = start_function({"MODEL_PATH": str(vector_model), **s3.env("x")})
    event = s3_put("records", "in/good.csv")
    event["Records"] += [
        {"eventSource": "aws:s3"},
        {"eventSource": "aws:s3", "s3": {"bucket": {"name": "records"}, "object": {"key": 5}}},
        {"eventSource": "aws:s3", "s3": {"bucket": {}, "object": {"key": "in/good.csv"}}},
        {"eventSource": "aws:sqs", "body": "{}"},
        "not a record",
    ]
    _, answer = function.invoke(event)
    assert answer["errorType"] == "BatchFailed", answer
    message = answer["errorMessage"]
    assert "5 of 6 objects failed" in message, message
    for fragment in ('record 2: InvalidInput: "s3" is missing', 'record 3: InvalidInput: "s3.object.key" is a JSON int',
                     'record 4: InvalidInput: "s3.bucket.name" is missing', 'record 5: InvalidInput: "eventSource" is',
                     "record 6: InvalidInput: the record is a JSON str"):
        assert fragment in message, message
    assert client.get_object(Bucket="records", Key="ovserve-output/in/good.csv.out")["Body"].read() == b"3.0,4.0,5.0"
    _, answer = function.invoke({"Records": [{"eventSource": "aws:s3"}]})
    assert answer["errorType"] == "BatchFailed" and '"s3" is missing' in answer["errorMessage"], answer


def test_an_object_with_zero_records_is_invalid_input_naming_the_input(start_function, vector_model, s3):
    s3.create_bucket("empty")
    s3.client().put_object(Bucket="empty", Key="in/none.json", Body=b'{"inputs": {"x": []}}')
    function = start_function({"MODEL_PATH": str(vector_model), **s3.env("x")})
    _, answer = function.invoke(s3_put("empty", "in/none.json"))
    assert answer["errorType"] == "BatchFailed", answer
    assert "s3://empty/in/none.json: InvalidInput:" in answer["errorMessage"] and "'x'" in answer["errorMessage"], answer
    assert "StorageError" not in answer["errorMessage"]


def _csv_rows(first: int, count: int) -> np.ndarray:
    return (np.arange(first, first + count, dtype=np.float32)[:, None] % 97) + np.array([0, 1, 2], dtype=np.float32)


def test_large_objects_stream_in_chunks_and_answers_upload_in_parts(start_function, vector_model, s3):
    """1 MiB chunks: a 6 MB object takes several chunks, rows straddle their edges, the 9 MB answer goes in parts.

    Memory stays a small multiple of a chunk: read whole, this object cost the runtime 163 MiB (26 times its size); streamed, 47 MiB.
    """
    s3.create_bucket("big")
    client = s3.client()
    rows = _csv_rows(0, 750_000)
    text = "\n".join(f"{int(a)},{int(b)},{int(c)}" for a, b, c in rows)
    client.put_object(Bucket="big", Key="in/rows.csv", Body=text)
    lines = [json.dumps(r) for r in rows[:40_000].tolist()]
    lines.insert(20_000, "")  # a blank line in the middle is skipped, as before
    client.put_object(Bucket="big", Key="in/records.jsonl", Body="\n".join(lines) + "\n")
    client.put_object(Bucket="big", Key="in/lines.json", Body="\n".join(lines))
    bad = text.split("\n")
    bad[400_000] = "1,x,3"
    client.put_object(Bucket="big", Key="in/bad.csv", Body="\n".join(bad))
    bad_lines = list(lines)
    bad_lines[30_000] = "[1, 2"
    client.put_object(Bucket="big", Key="in/bad.jsonl", Body="\n".join(bad_lines))
    client.put_object(Bucket="big", Key="in/warm-up.csv", Body="1,2,3")
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_S3_CHUNK_MB": "1", **s3.env("x")})
    function.invoke(s3_put("big", "in/warm-up.csv"))  # the model compiled, the runtime warm
    warm = function.peak_rss_mb()
    _, answer = function.invoke(s3_put("big", "in/rows.csv"))
    grown = function.peak_rss_mb() - warm
    print(f"peak RSS grew by {grown:.0f} MiB for {len(text) / 2**20:.1f} MiB of CSV")
    assert grown < 90, f"the runtime's peak RSS grew by {grown:.0f} MiB for a {len(text) / 2**20:.1f} MiB object"
    _, more = function.invoke(s3_put("big", "in/records.jsonl", "in/lines.json"))
    assert [p["records"] for p in answer["processed"] + more["processed"]] == [750_000, 40_000, 40_000], str(more)[:500]
    csv_out = client.get_object(Bucket="big", Key="ovserve-output/in/rows.csv.out")
    assert csv_out["ContentType"] == "text/csv" and csv_out["ContentLength"] > 8 * 1024 * 1024
    got = np.loadtxt(csv_out["Body"].read().decode().splitlines(), delimiter=",", dtype=np.float32)
    assert got.shape == rows.shape and np.array_equal(got, rows + 2)
    for key in ("in/records.jsonl", "in/lines.json"):
        out = client.get_object(Bucket="big", Key=f"ovserve-output/{key}.out")["Body"].read().decode().splitlines()
        assert np.array_equal(np.array([json.loads(line) for line in out], dtype=np.float32), rows[:40_000] + 2), key
    _, answer = function.invoke(s3_put("big", "in/bad.csv", "in/bad.jsonl"))
    assert answer["errorType"] == "BatchFailed", answer
    assert "CSV row 400001 column 2: 'x' is not a number" in answer["errorMessage"], answer
    assert "JSON Lines line 30001 is not valid JSON" in answer["errorMessage"], answer
    listed = client.list_objects_v2(Bucket="big", Prefix="ovserve-output/in/bad")
    assert listed["KeyCount"] == 0, listed  # a failed object leaves no partial answer...
    assert not client.list_multipart_uploads(Bucket="big").get("Uploads")  # ...and no unfinished upload


def test_a_json_document_is_read_whole_and_bounded_separately(start_function, vector_model, s3):
    s3.create_bucket("documents")
    client = s3.client()
    document = json.dumps({"instances": _csv_rows(0, 90_000).tolist()}, indent=1)  # 3.1 MB, many lines
    client.put_object(Bucket="documents", Key="in/doc.json", Body=document)
    client.put_object(Bucket="documents", Key="in/small.json", Body=json.dumps({"inputs": {"x": [[1, 2, 3]]}}))
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_S3_CHUNK_MB": "1", "OVSERVE_MAX_DOCUMENT_MB": "2",
                               **s3.env("x")})
    _, answer = function.invoke(s3_put("documents", "in/doc.json", "in/small.json"))
    assert answer["errorType"] == "BatchFailed" and "1 of 2 objects failed" in answer["errorMessage"], answer
    assert "one JSON document" in answer["errorMessage"] and "OVSERVE_MAX_DOCUMENT_MB" in answer["errorMessage"], answer
    out = json.loads(client.get_object(Bucket="documents", Key="ovserve-output/in/small.json.out")["Body"].read())
    assert out == {"outputs": {"y": [[3.0, 4.0, 5.0]]}} or out == {"outputs": [[3.0, 4.0, 5.0]]}, out
    roomy = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_S3_CHUNK_MB": "1", **s3.env("x")})
    _, answer = roomy.invoke(s3_put("documents", "in/doc.json"))
    assert answer["processed"][0]["records"] == 90_000, str(answer)[:300]
    out = json.loads(client.get_object(Bucket="documents", Key="ovserve-output/in/doc.json.out")["Body"].read())
    assert np.array_equal(np.array(out["predictions"], dtype=np.float32), _csv_rows(0, 90_000) + 2)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OVSERVE_MAX_OBJECT_MB", "lots"), ("OVSERVE_MAX_DOCUMENT_MB", "0"), ("OVSERVE_S3_CHUNK_MB", "-1")],
)
def test_bad_s3_batch_settings_fail_init_naming_the_variable(variable, value, vector_model):
    from ovserve.aws_lambda import settings
    from ovserve.handler.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        settings.load({"MODEL_PATH": str(vector_model), variable: value})
    assert str(raised.value).startswith(f"{variable}: expected an integer") and "\n" not in str(raised.value)
