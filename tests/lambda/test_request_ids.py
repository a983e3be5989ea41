"""Request ids over Lambda, through the real emulator: the id an invocation answers under, echoed and on its log lines.

The function logs at DEBUG, so every invocation writes at least its closing
"invocation done" line; the emulator's START/END lines say which Lambda
request id each stretch of output belongs to. The function is warmed first:
init's lines belong to no request, and the model's load runs on a thread of
its own, shared by every request that waits for it.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.lambda_events import http_v2, rest_v1
from tests.lambda_log import Invocation, invocations
from tests.lambdaproc import Emulator

PREDICT = json.dumps({"instances": [[1, 2, 3]]})
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def function(tmp_path_factory):
    from tests import models

    root = tmp_path_factory.mktemp("lambda-ids")
    models.write_version(root / "model", 1, models.add_one(shape=(-1, 3), value=1.0))
    emulator = Emulator({"MODEL_PATH": str(root / "model"), "LOG_LEVEL": "DEBUG"}, root / "function.log")
    try:
        assert emulator.invoke({"instances": [[0, 0, 0]]})[1] == {"predictions": [[1.0, 1.0, 1.0]]}
        yield emulator
    finally:
        emulator.stop()


def last(function: Emulator, count: int) -> list[Invocation]:
    """The last ``count`` invocations of ``function``, oldest first."""
    done = invocations(function.read_log(tail=None))
    assert len(done) >= count, done
    return done[-count:]


def assert_logged_under(invocation: Invocation, request_id: str) -> None:
    """Every log line of ``invocation`` names ``request_id``, and Lambda's id beside it exactly when that differs."""
    lines = invocation.logs()
    assert any(line["msg"] == "invocation done" for line in lines), invocation.lines
    for line in lines:
        assert line["request_id"] == request_id, line
        if request_id == invocation.aws_request_id:
            assert "aws_request_id" not in line, line
        else:
            assert line["aws_request_id"] == invocation.aws_request_id, line


def test_an_id_sent_in_is_on_the_answer_and_on_that_invocations_log_lines_only(function):
    _, first = function.invoke(http_v2("POST", "/v1/models/model:predict", body=PREDICT, headers={"x-request-id": "trace-0001"}))
    _, second = function.invoke(rest_v1("POST", "/v1/models/model:predict", body=PREDICT, headers={"X-Request-Id": "trace-0002"}))
    assert first["statusCode"] == second["statusCode"] == 200, (first, second)
    assert first["headers"]["x-request-id"] == "trace-0001"
    assert second["headers"]["x-request-id"] == "trace-0002" and second["multiValueHeaders"]["x-request-id"] == ["trace-0002"]
    one, two = last(function, 2)
    assert_logged_under(one, "trace-0001")
    assert_logged_under(two, "trace-0002")
    assert "trace-0002" not in "\n".join(one.lines) and "trace-0001" not in "\n".join(two.lines)


def test_without_a_usable_id_the_gateways_id_answers_and_then_lambdas(function):
    event = http_v2("POST", "/v1/models/model:predict", body=PREDICT)
    event["requestContext"]["requestId"] = "gw-Zx81"
    _, from_gateway = function.invoke(event)
    spaced = http_v2("POST", "/v1/models/model:predict", body=PREDICT, headers={"x-request-id": "has a space"})
    spaced["requestContext"]["requestId"] = "gw-Zx82"
    _, not_usable = function.invoke(spaced)
    bare = http_v2("POST", "/v1/models/model:predict", body=PREDICT, headers={"x-request-id": "x" * 129})
    del bare["requestContext"]["requestId"]
    _, from_lambda = function.invoke(bare)
    gateway, replaced, own = last(function, 3)
    assert from_gateway["headers"]["x-request-id"] == "gw-Zx81"
    assert not_usable["headers"]["x-request-id"] == "gw-Zx82"  # 'has a space' is not echoed
    assert from_lambda["headers"]["x-request-id"] == own.aws_request_id and UUID.fullmatch(own.aws_request_id)
    assert_logged_under(gateway, "gw-Zx81")
    assert_logged_under(replaced, "gw-Zx82")
    assert_logged_under(own, own.aws_request_id)  # one id: no aws_request_id beside it


def test_a_malformed_event_still_answers_under_the_id_sent(function):
    event = http_v2("POST", "/invocations", headers={"x-request-id": "trace-bad-1"})
    event["body"] = -1
    _, answer = function.invoke(event)
    assert answer["statusCode"] == 400 and '"body"' in json.loads(answer["body"])["error"], answer
    assert answer["headers"]["x-request-id"] == "trace-bad-1"
    (bad,) = last(function, 1)
    assert_logged_under(bad, "trace-bad-1")


def test_errors_answer_under_the_id_too(function):
    _, answer = function.invoke(http_v2("POST", "/v1/models/nope:predict", body=PREDICT, headers={"x-request-id": "trace-404"}))
    assert answer["statusCode"] == 404 and answer["headers"]["x-request-id"] == "trace-404", answer
    (missing,) = last(function, 1)
    assert_logged_under(missing, "trace-404")


def test_direct_invocations_answer_under_lambdas_id(function):
    _, answer = function.invoke({"instances": [[1, 2, 3]]})
    assert answer == {"predictions": [[2.0, 3.0, 4.0]]}  # the TF Serving answer, unchanged: Lambda's own reply names the id
    _, failed = function.invoke({"instances": [[1, 2]]})
    assert failed["errorType"] == "InvalidInput", failed
    ok, error = last(function, 2)
    assert ok.aws_request_id != error.aws_request_id
    assert_logged_under(ok, ok.aws_request_id)
    assert_logged_under(error, error.aws_request_id)
