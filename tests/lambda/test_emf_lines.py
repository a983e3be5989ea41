"""The EMF builder on its own: settings from the environment's text, the document it writes, and writing that never fails."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from ovserve.aws_lambda import emf
from ovserve.handler.errors import ConfigError
from tests import emf_format


def outcome(**changes: object) -> emf.Outcome:
    fields = {"interface": "REST", "status": 200, "errors": 0, "records": 4, "model": "resnet", "version": 3,
              "latency_ms": 12.34567, "request_id": "r-1", "aws_request_id": "a-1"}
    return emf.Outcome(**{**fields, **changes})  # type: ignore[arg-type]


def test_unset_or_blank_namespace_is_off() -> None:
    assert emf.settings_from("", "model", "fn") is None
    assert emf.settings_from("   ", "", "fn") is None


def test_dimension_sets_default_parse_and_deduplicate() -> None:
    assert emf.settings_from("ns", "", "fn").dimensions == (("Model", "Version"),)
    parsed = emf.settings_from("ns", " Model , version ; interface;function,status_class; model,version,model", "fn")
    assert parsed.dimensions == (("Model", "Version"), ("Interface",), ("FunctionName", "StatusClass"))


@pytest.mark.parametrize("text", ["model,request_id", "model;", ",", "model version"])
def test_an_unknown_or_empty_dimension_key_fails_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^OVSERVE_EMF_DIMENSIONS: expected sets of model, version, interface"):
        emf.settings_from("ns", text, "fn")


@pytest.mark.parametrize("namespace", ["AWS/Lambda", "a" * 256, "my metrics", "ovserve\u00e9"])
def test_a_namespace_cloudwatch_refuses_fails_naming_the_variable(namespace: str) -> None:
    with pytest.raises(ConfigError, match=r"^OVSERVE_EMF_NAMESPACE: expected 1 to 255"):
        emf.settings_from(namespace, "", "fn")


def test_the_longest_namespace_and_its_characters_are_accepted() -> None:
    assert emf.settings_from("a" * 255, "", "fn").namespace == "a" * 255
    assert emf.settings_from("Team_1/ovserve.prod#eu:west-1", "", "fn") is not None


def test_the_document_is_one_json_line_cloudwatch_extracts() -> None:
    settings = emf.settings_from("ovserve", "model,version;function", "scorer")
    text = emf.line(settings, outcome(), now_ms=1_700_000_000_000)
    assert text.endswith(b"\n") and text.count(b"\n") == 1
    document = json.loads(text)
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Model", "Version"], ["FunctionName"]]
    assert (document["Model"], document["Version"], document["FunctionName"]) == ("resnet", "3", "scorer")
    assert (document["Latency"], document["Records"], document["Errors"]) == (12.346, 4, 0)
    assert (document["request_id"], document["aws_request_id"]) == ("r-1", "a-1")
    emf_format.check(json.loads(emf.line(settings, outcome())), "ovserve")  # stamped now


@pytest.mark.parametrize(("model", "shown"), [(None, "-"), ("", "-"), (":x", "-"), ("mod\u00e8le", "-"), ("m" * 2000, "m" * 1024)])
def test_dimension_values_stay_within_what_emf_accepts(model: str | None, shown: str) -> None:
    document = json.loads(emf.line(emf.settings_from("ns", "model", ""), outcome(model=model, version=None)))
    assert document["Model"] == shown and document["Version"] == "-" and document["FunctionName"] == "-"


def test_writing_never_raises_and_says_why_in_the_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    with caplog.at_level(logging.WARNING, logger="ovserve.lambda"):
        emf.emit(emf.settings_from("ns", "", ""), outcome())
    (record,) = caplog.records
    assert record.getMessage() == "metrics line not written" and "ValueError" in record.reason  # type: ignore[attr-defined]


def test_writing_puts_the_whole_line_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", captured)
    emf.emit(emf.settings_from("ns", "", ""), outcome())
    (line,) = captured.getvalue().splitlines()
    assert json.loads(line)["Records"] == 4
