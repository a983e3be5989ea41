"""Metrics and access-log settings: OVMS's rules and words for --metrics_enable, --metrics_list and config.json monitoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovserve.handler.errors import ConfigError
from ovserve.handler.metrics.families import DEFAULT
from ovserve.handler.settings.server import load_settings

MODEL = ["--model_name", "m", "--model_path", "/nowhere", "--rest_port", "8000"]


def config(tmp_path: Path, monitoring: object) -> list[str]:
    path = tmp_path / "config.json"
    document = {"model_config_list": [{"config": {"name": "m", "base_path": "m"}}], "monitoring": monitoring}
    path.write_text(json.dumps(document))
    return ["--config_path", str(path), "--rest_port", "8000"]


def refused(argv: list[str], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(argv, environ or {})
    return caught.value.message


def test_metrics_are_off_by_default_and_the_flag_turns_on_the_default_set() -> None:
    assert not load_settings(MODEL, {}).metrics.enabled
    on = load_settings([*MODEL, "--metrics_enable"], {}).metrics
    assert on.enabled and on.families == DEFAULT


def test_metrics_list_replaces_the_default_set_and_the_environment_works_too() -> None:
    chosen = load_settings([*MODEL, "--metrics_enable", "--metrics_list", " ovms_requests_success, ovms_infer_req_queue_size"], {})
    assert chosen.metrics.families == ("ovms_requests_success", "ovms_infer_req_queue_size")
    from_env = load_settings(MODEL, {"OVSERVE_METRICS_ENABLE": "true", "OVSERVE_METRICS_LIST": "ovms_streams"})
    assert from_env.metrics.families == ("ovms_streams",)


def test_ovms_mediapipe_families_are_accepted_in_a_list() -> None:
    assert load_settings([*MODEL, "--metrics_enable", "--metrics_list", "ovms_current_graphs"], {}).metrics.enabled


def test_a_list_without_enable_and_an_unknown_name_are_refused_in_ovms_words() -> None:
    assert refused([*MODEL, "--metrics_list", "ovms_streams"]) == (
        "--metrics_list: metrics_enable setting is missing, required when metrics_list is provided; expected --metrics_enable as well")
    message = refused([*MODEL, "--metrics_enable", "--metrics_list", "ovms_streams,ovms_nonsense"])
    assert message.startswith("--metrics_list: expected family names from ovms_requests_success, ")
    assert "(Invalid name in metrics_list)" in message and message.endswith("got 'ovms_nonsense'")
    assert refused([*MODEL, "--metrics_enable=maybe"]).startswith("command line:")
    assert refused(MODEL, {"OVSERVE_METRICS_ENABLE": "maybe"}).startswith("--metrics_enable: expected")


def test_metrics_without_a_rest_port_say_where_metrics_are_served(tmp_path: Path) -> None:
    grpc_only = ["--model_name", "m", "--model_path", "/nowhere", "--port", "9000", "--rest_port", "0"]
    assert refused([*grpc_only, "--metrics_enable"]) == (
        "--metrics_enable: rest_port setting is missing, metrics are enabled on rest port; expected --rest_port as well: "
        "GET /metrics is served on the REST port, a gRPC-only server (--rest_port 0) has none")
    from_file = config(tmp_path, {"metrics": {"enable": True}})[:2]
    assert refused(from_file).startswith("monitoring.metrics.enable: Missing rest_port parameter in server CLI; expected --rest_port")


def test_config_json_monitoring_enables_metrics_with_its_own_list(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, {"metrics": {"enable": True, "metrics_list": ["ovms_requests_fail"]}}), {})
    assert settings.metrics.enabled and settings.metrics.families == ("ovms_requests_fail",)
    assert not load_settings(config(tmp_path, {"metrics": {"enable": False}}), {}).metrics.enabled


@pytest.mark.parametrize(("monitoring", "start"), [
    ({"metrics": {"enable": True, "endpoint_path": "/m"}}, "monitoring.metrics.endpoint_path: unknown setting"),
    ({"metrics": {"metrics_list": []}}, "monitoring.metrics: expected an object with \"enable\""),
    ({"metrics": {"enable": "yes"}}, "monitoring.metrics.enable: expected true or false"),
    ({"metrics": {"enable": True}, "tracing": {}}, "monitoring: expected an object {\"metrics\""),
    ({"metrics": {"enable": True, "metrics_list": "ovms_streams"}}, "monitoring.metrics.metrics_list: expected a list"),
    ({"metrics": {"enable": True, "metrics_list": ["nope"]}}, "monitoring.metrics.metrics_list: expected family names"),
    ({"metrics": {"enable": False, "metrics_list": ["ovms_streams"]}}, "monitoring.metrics.metrics_list: metrics_enable setting"),
])
def test_config_json_monitoring_follows_ovms_schema(tmp_path: Path, monitoring: object, start: str) -> None:
    assert refused(config(tmp_path, monitoring)).startswith(start)


def test_monitoring_in_the_file_and_metrics_flags_together_are_a_duplicate(tmp_path: Path) -> None:
    argv = [*config(tmp_path, {"metrics": {"enable": True}}), "--metrics_enable"]
    assert refused(argv).startswith("--metrics_enable: Metrics configuration duplicated in configuration file and CLI parameters")


def test_access_log_level_defaults_to_debug_and_refuses_other_words() -> None:
    assert load_settings(MODEL, {}).access_log == "DEBUG"
    assert load_settings([*MODEL, "--access_log", "info"], {}).access_log == "INFO"
    assert load_settings(MODEL, {"OVSERVE_ACCESS_LOG": "off"}).access_log == "OFF"
    assert refused([*MODEL, "--access_log", "loud"]) == "--access_log: expected OFF or DEBUG or INFO or WARNING, got 'loud'"
