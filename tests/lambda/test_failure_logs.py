"""A 5xx is logged once, with the same fields, by the REST server and by Lambda (one rule in the core: handler/failures.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests import models
from tests.lambda_events import http_v2
from tests.serverproc import serving

HUGE = {"inputs": [1_000_000, 1_000_000]}  # broadcast_zeros: an answer of a trillion elements, out of memory (503)
# Every record carries these (logs.JsonFormatter); what differs between transports is the logger's name only.
ENVELOPE = {"ts", "level", "logger", "msg"}
# Which ids a request's lines carry is each transport's (request_context; Lambda adds its own aws_request_id).
IDS = {"request_id", "aws_request_id"}


def failures(text: str) -> list[dict]:
    """The ERROR records about failed requests in a log of JSON lines (other output, e.g. the emulator's, skipped)."""
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("level") == "ERROR" and entry.get("msg") in ("request failed", "unexpected error"):
                entries.append(entry)
    return entries


def test_a_5xx_is_logged_once_with_the_same_fields_on_rest_and_lambda(start_function, tmp_path: Path) -> None:
    with serving(tmp_path / "rest", {"model": models.broadcast_zeros()}) as server:
        response = server.client.post("/v1/models/model:predict", json=HUGE)
        assert response.status_code == 503, response.text
        assert server.client.post("/v1/models/model:predict", json={"inputs": [1, 2]}).status_code == 200  # a 200: no record
        rest = failures(server.log_path.read_text())

    models.write_version(tmp_path / "zeros", 1, models.broadcast_zeros())
    function = start_function({"MODEL_PATH": str(tmp_path / "zeros")})
    _, answer = function.invoke(http_v2("POST", "/v1/models/model:predict", body=json.dumps(HUGE)))
    assert answer["statusCode"] == 503, answer
    _, answer = function.invoke(http_v2("GET", "/v1/models/nothing"))
    assert answer["statusCode"] == 404, answer  # the client's mistake: not an error in the log
    on_lambda = failures(function.read_log(tail=None))

    assert len(rest) == 1 and len(on_lambda) == 1, (rest, on_lambda)
    (rest_entry,), (lambda_entry,) = rest, on_lambda
    assert set(rest_entry) - IDS == set(lambda_entry) - IDS == ENVELOPE | {"path", "kind", "reason", "status"}
    assert lambda_entry["request_id"] == "id"  # the gateway's requestContext.requestId (tests.lambda_events)
    for entry in (rest_entry, lambda_entry):
        assert entry["msg"] == "request failed" and entry["path"] == "/v1/models/model:predict"
        assert entry["kind"] == "insufficient_resources" and entry["status"] == 503
        assert "inference failed for this input: out of memory" in entry["reason"]
        assert "1000000" not in json.dumps(entry)  # the request's payload never reaches the log
