"""Server settings from flags, environment and config.json (handler/settings.py, handler/config.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.server import load_settings
from ovserve.handler.settings.values import ShapeSpec, VersionPolicy

MODEL = ["--model_name", "resnet", "--model_path", "/models/resnet"]


def config_error(argv, environ=None) -> str:
    """The single-line message of the ConfigError ``load_settings`` raises."""
    with pytest.raises(ConfigError) as caught:
        load_settings(argv, {} if environ is None else environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def write_config(folder: Path, document, name: str = "config.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def models_document(*configs: dict) -> dict:
    return {"model_config_list": [{"config": config} for config in configs]}


# --- single model from flags ------------------------------------------------------------------


def test_defaults_for_a_single_model():
    settings = load_settings(MODEL, {})
    assert settings.port == 9000
    assert settings.rest_port == 0
    assert settings.file_system_poll_wait_seconds == 1
    assert settings.log_level == "INFO"
    assert settings.log_path is None
    assert settings.grpc_channel_arguments == {}
    assert settings.config_path is None
    assert settings.shutdown_timeout_seconds == 25.0
    (model,) = settings.models
    assert (model.name, model.base_path) == ("resnet", "/models/resnet")
    assert model.version_policy == VersionPolicy(kind="latest", num_versions=1)
    assert (model.nireq, model.target_device, model.batch_size, model.shape, model.layout) == (0, "CPU", None, None, None)
    assert (model.preload, model.max_queued_requests, model.cache_dir, model.plugin_config) == (False, 128, None, {})


def test_model_flags_are_parsed_into_the_model():
    settings = load_settings(
        [
            *MODEL,
            "--shape", "(1,3,-1,-1)",
            "--batch_size", "auto",
            "--layout", "nhwc:nchw",
            "--model_version_policy", '{"latest": {"num_versions": 2}}',
            "--nireq", "4",
            "--target_device", " GPU ",
            "--plugin_config", '{"CPU_THROUGHPUT_STREAMS": "CPU_THROUGHPUT_AUTO"}',
            "--cache_dir", "/cache",
            "--max_queued_requests", "16",
            "--preload",
        ],
        {},
    )
    (model,) = settings.models
    assert model.shape == ShapeSpec(single=(1, 3, -1, -1))
    assert model.batch_size == "auto"
    assert model.layout == "NHWC:NCHW"
    assert model.version_policy == VersionPolicy(kind="latest", num_versions=2)
    assert model.nireq == 4
    assert model.target_device == "GPU"
    assert model.plugin_config == {"NUM_STREAMS": "AUTO"}
    assert model.cache_dir == "/cache"
    assert model.max_queued_requests == 16
    assert model.preload is True


def test_server_flags_are_parsed():
    settings = load_settings(
        [*MODEL, "--port", "9001", "--rest_port", "8080", "--rest_bind_address", "127.0.0.1",
         "--rest_max_body_mb", "10", "--file_system_poll_wait_seconds", "0", "--shutdown_timeout_seconds", "2.5"],
        {},
    )
    assert (settings.port, settings.rest_port, settings.rest_bind_address) == (9001, 8080, "127.0.0.1")
    assert settings.rest_max_body_mb == 10
    assert settings.file_system_poll_wait_seconds == 0
    assert settings.shutdown_timeout_seconds == 2.5


def test_nothing_to_serve_is_an_error():
    assert config_error([]).startswith("--model_name/--model_path or --config_path: missing; expected one of them")


def test_model_name_without_path_and_path_without_name():
    assert config_error(["--model_name", "m"]).startswith("--model_path: missing; expected ")
    assert config_error(["--model_path", "/m"]).startswith("--model_name: missing; expected ")


def test_bad_model_name_flag_is_named_as_given():
    message = config_error(["--model_name", "bad name", "--model_path", "/m"])
    assert message.startswith("--model_name: expected a model name of letters, digits")
    assert message.endswith("got 'bad name'")


def test_blank_model_path_flag_is_named_as_given():
    assert config_error(["--model_name", "m", "--model_path", "   "]).startswith("--model_path: expected ")


@pytest.mark.parametrize(
    ("flags", "prefix"),
    [
        (["--nireq", "abc"], "--nireq: expected an integer from 0 to 1024, got 'abc'"),
        (["--nireq", "2000"], "--nireq: expected an integer from 0 to 1024, got '2000'"),
        (["--port", "70000"], "--port: expected an integer from 0 to 65535, got '70000'"),
        (["--rest_port", "-1"], "--rest_port: expected an integer from 0 to 65535, got '-1'"),
        (["--file_system_poll_wait_seconds", "soon"], "--file_system_poll_wait_seconds: expected an integer >= 0"),
        (["--rest_max_body_mb", "0"], "--rest_max_body_mb: expected an integer from 1 to 4096"),
        (["--max_queued_requests", "0"], "--max_queued_requests: expected an integer from 1 to 1000000"),
        (["--shape", "(1,a)"], "--shape: expected a shape like (1,3,224,224)"),
        (["--batch_size", "-2"], "--batch_size: expected an integer from 1 to 2147483647"),
        (["--layout", "N-C"], "--layout: expected a layout like NHWC"),
        (["--model_version_policy", '{"latest":{"num_versions":0}}'], "--model_version_policy.latest.num_versions: expected"),
        (["--plugin_config", "NUM_STREAMS=1"], "--plugin_config: expected a JSON object"),
        (["--target_device", " "], "--target_device: expected a device name such as CPU"),
        (["--shutdown_timeout_seconds", "later"], "--shutdown_timeout_seconds: expected a number of seconds from 0 to 3600"),
        (["--shutdown_timeout_seconds", "nan"], "--shutdown_timeout_seconds: expected a number of seconds from 0 to 3600"),
        (["--sequence_cleaner_poll_wait_minutes", "x"], "--sequence_cleaner_poll_wait_minutes: expected an integer >= 0"),
    ],
)
def test_bad_flag_values_name_the_flag(flags, prefix):
    assert config_error([*MODEL, *flags]).startswith(prefix)


def test_unknown_flag_is_a_config_error():
    assert config_error([*MODEL, "--bogus", "1"]).startswith("command line: unrecognized arguments: --bogus")


# --- log level, channel arguments -------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [("debug", "DEBUG"), (" Warning ", "WARNING"), ("ERROR", "ERROR")])
def test_log_level_is_normalised(given, expected):
    assert load_settings([*MODEL, "--log_level", given], {}).log_level == expected


@pytest.mark.parametrize("level", ["loud", "TRACE", "CRITICAL"])
def test_log_level_rejects_unknown_levels(level):
    assert config_error([*MODEL, "--log_level", level]) == (
        f"--log_level: expected DEBUG or INFO or WARNING or ERROR, got {level!r}"
    )


def test_grpc_channel_arguments_are_key_value_pairs():
    settings = load_settings([*MODEL, "--grpc_channel_arguments", "grpc.max_connection_age_ms=2000, b = 2,c="], {})
    assert settings.grpc_channel_arguments == {"grpc.max_connection_age_ms": "2000", "b": "2", "c": ""}


@pytest.mark.parametrize("value", ["a", "=1", "a=1,,b=2", "a=1,"])
def test_grpc_channel_arguments_rejects_malformed_pairs(value):
    assert config_error([*MODEL, "--grpc_channel_arguments", value]) == (
        f"--grpc_channel_arguments: expected key=value pairs separated by commas, got {value!r}"
    )


# --- environment ------------------------------------------------------------------------------


def test_every_flag_can_come_from_an_ovserve_variable():
    settings = load_settings(
        [],
        {
            "OVSERVE_MODEL_NAME": "env_model",
            "OVSERVE_MODEL_PATH": "/env/path",
            "OVSERVE_PORT": "9100",
            "OVSERVE_REST_PORT": "8500",
            "OVSERVE_NIREQ": "3",
            "OVSERVE_PRELOAD": "yes",
        },
    )
    (model,) = settings.models
    assert (model.name, model.base_path, model.nireq, model.preload) == ("env_model", "/env/path", 3, True)
    assert (settings.port, settings.rest_port) == (9100, 8500)


def test_plain_ovms_variables_are_read():
    settings = load_settings(
        MODEL, {"FILE_SYSTEM_POLL_WAIT_SECONDS": "5", "LOG_LEVEL": "debug", "LOG_PATH": "/tmp/ovserve.log", "PRELOAD": "1"}
    )
    assert settings.file_system_poll_wait_seconds == 5
    assert settings.log_level == "DEBUG"
    assert settings.log_path == "/tmp/ovserve.log"
    assert settings.models[0].preload is True


def test_command_line_wins_over_environment():
    settings = load_settings(
        [*MODEL, "--port", "9200", "--log_level", "ERROR", "--file_system_poll_wait_seconds", "0",
         "--log_path", "/cli.log", "--preload"],
        {"OVSERVE_PORT": "9100", "LOG_LEVEL": "debug", "FILE_SYSTEM_POLL_WAIT_SECONDS": "5",
         "LOG_PATH": "/env.log", "PRELOAD": "false"},
    )
    assert settings.port == 9200
    assert settings.log_level == "ERROR"
    assert settings.file_system_poll_wait_seconds == 0
    assert settings.log_path == "/cli.log"
    assert settings.models[0].preload is True


def test_prefixed_variable_wins_over_plain_one():
    settings = load_settings(MODEL, {"OVSERVE_FILE_SYSTEM_POLL_WAIT_SECONDS": "7", "FILE_SYSTEM_POLL_WAIT_SECONDS": "5"})
    assert settings.file_system_poll_wait_seconds == 7


def test_empty_variables_are_ignored():
    settings = load_settings(MODEL, {"OVSERVE_PORT": "", "LOG_LEVEL": "", "LOG_PATH": ""})
    assert (settings.port, settings.log_level, settings.log_path) == (9000, "INFO", None)


@pytest.mark.parametrize(
    ("environ", "prefix"),
    [
        ({"OVSERVE_NIREQ": "x"}, "--nireq: expected an integer from 0 to 1024, got 'x'"),
        ({"LOG_LEVEL": "loud"}, "--log_level: expected DEBUG or INFO or WARNING or ERROR, got 'loud'"),
        ({"FILE_SYSTEM_POLL_WAIT_SECONDS": "-1"}, "--file_system_poll_wait_seconds: expected an integer >= 0, got '-1'"),
        ({"PRELOAD": "maybe"}, "--preload: expected true or false, got 'maybe'"),
    ],
)
def test_bad_environment_values_name_the_flag(environ, prefix):
    assert config_error(MODEL, environ).startswith(prefix)


# --- config.json ------------------------------------------------------------------------------


def test_config_file_models_and_relative_base_path(tmp_path, monkeypatch):
    path = write_config(
        tmp_path / "conf",
        models_document(
            {"name": "a", "base_path": "models/a"},
            {"name": "b", "base_path": "/abs/b", "nireq": 2, "shape": {"in": "(1,3,-1,-1)"}},
            {"name": "c", "base_path": "s3://bucket/c", "model_version_policy": {"all": {}}},
        ),
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(["--config_path", "conf/config.json"], {})
    assert settings.config_path == "conf/config.json"
    a, b, c = settings.models
    assert Path(a.base_path) == path.parent.resolve() / "models" / "a"
    assert (b.name, b.base_path, b.nireq) == ("b", "/abs/b", 2)
    assert b.shape == ShapeSpec(per_input=(("in", (1, 3, -1, -1)),))
    assert (c.base_path, c.version_policy) == ("s3://bucket/c", VersionPolicy(kind="all"))


def test_config_file_accepts_ignored_ovms_keys(tmp_path):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a", "stateful": False, "idle_sequence_cleanup": True}))
    assert [m.name for m in load_settings(["--config_path", str(path)], {}).models] == ["a"]


def test_shared_flags_apply_to_config_models_unless_the_config_sets_them(tmp_path):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a"}, {"name": "b", "base_path": "/b", "preload": False}))
    settings = load_settings(["--config_path", str(path), "--preload", "--cache_dir", "/c", "--max_queued_requests", "9"], {})
    a, b = settings.models
    assert (a.preload, a.cache_dir, a.max_queued_requests) == (True, "/c", 9)
    assert (b.preload, b.cache_dir, b.max_queued_requests) == (False, "/c", 9)


def test_bad_shared_flag_with_config_path_names_the_flag(tmp_path):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a"}))
    message = config_error(["--config_path", str(path), "--max_queued_requests", "0"])
    assert message.startswith("--max_queued_requests: expected an integer from 1 to 1000000")


@pytest.mark.parametrize(
    ("configs", "fragment"),
    [
        (
            [{"name": "a", "base_path": "/a"}, {"name": "a", "base_path": "/b"}],
            "model_config_list[1].config.name: model 'a' is defined twice; expected unique names",
        ),
        ([{"base_path": "/a"}], "model_config_list[0].config.name: expected a model name"),
        ([{"name": "a b", "base_path": "/a"}], "model_config_list[0].config.name: expected a model name"),
        ([{"name": "a"}], "model_config_list[0].config.base_path: expected a path to the model's version folders"),
        ([{"name": "a", "base_path": 5}], "model_config_list[0].config.base_path: expected a path"),
        ([{"name": "a", "base_path": "/a", "foo": 1}], "model_config_list[0].config.foo: unknown model setting; expected one of"),
        ([{"name": "a", "base_path": "/a", "nireq": "abc"}], "model_config_list[0].config.nireq: expected an integer from 0 to 1024"),
        (
            [{"name": "ok", "base_path": "/a"}, {"name": "b", "base_path": "/b", "shape": "(1,x)"}],
            "model_config_list[1].config.shape: expected a shape like (1,3,224,224)",
        ),
        ([{"name": "a", "base_path": "/a", "cache_dir": 3}], "model_config_list[0].config.cache_dir: expected a directory path"),
    ],
)
def test_config_model_errors_name_the_json_path(tmp_path, configs, fragment):
    path = write_config(tmp_path, models_document(*configs))
    assert config_error(["--config_path", str(path)]).startswith(fragment)


@pytest.mark.parametrize(
    ("document", "prefix"),
    [
        ({"model_config_list": {"config": {}}}, 'model_config_list: expected a list of {"config": {...}} entries'),
        ({"models": []}, 'model_config_list: expected a list of {"config": {...}} entries'),
        ([], 'model_config_list: expected a list of {"config": {...}} entries'),
        ({"model_config_list": [{"name": "a", "base_path": "/a"}]}, 'model_config_list[0]: expected an object {"config": {...}}'),
        ({"model_config_list": [{"config": []}]}, 'model_config_list[0]: expected an object {"config": {...}}'),
        ({"model_config_list": ["a"]}, 'model_config_list[0]: expected an object {"config": {...}}'),
    ],
)
def test_config_schema_errors(tmp_path, document, prefix):
    path = write_config(tmp_path, document)
    assert config_error(["--config_path", str(path)]).startswith(prefix)


def test_config_file_that_is_not_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model_config_list": [', encoding="utf-8")
    assert config_error(["--config_path", str(path)]).startswith(f"--config_path: {str(path)!r} is not valid JSON")


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe{}")
    assert config_error(["--config_path", str(path)]) == f"--config_path: {str(path)!r} is not UTF-8 text"


@pytest.mark.parametrize("relative", ["missing.json", "."])
def test_config_path_that_cannot_be_read(tmp_path, relative):
    path = tmp_path / relative
    assert config_error(["--config_path", str(path)]).startswith(f"--config_path: cannot read {str(path)!r}: ")


@pytest.mark.parametrize(
    ("flags", "clash"),
    [
        (["--shape", "(1,2)"], "--shape"),
        (["--model_name", "m"], "--model_name"),
        (["--model_path", "/m"], "--model_path"),
        (["--nireq", "2"], "--nireq"),
        (["--plugin_config", "{}"], "--plugin_config"),
        (["--batch_size", "1"], "--batch_size"),
    ],
)
def test_model_flags_clash_with_config_path(tmp_path, flags, clash):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a"}))
    assert config_error(["--config_path", str(path), *flags]) == (
        f"{clash}: not allowed with --config_path; expected model settings inside the config file"
    )


def test_model_variable_clashes_with_config_path(tmp_path):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a"}))
    assert config_error(["--config_path", str(path)], {"OVSERVE_SHAPE": "auto"}).startswith("--shape: not allowed with --config_path")


# --- limits that used to be read from the environment at import time ---------------------------


def test_records_per_batch_and_archive_limit_defaults():
    (model,) = load_settings(MODEL, {}).models
    assert (model.max_records_per_batch, model.max_archive_bytes) == (1024, 20 * 1024**3)


def test_records_per_batch_and_archive_limit_come_from_flags_or_the_environment(tmp_path):
    (model,) = load_settings(MODEL, {"OVSERVE_MAX_RECORDS_PER_BATCH": "64", "OVSERVE_MAX_ARCHIVE_BYTES": "1000"}).models
    assert (model.max_records_per_batch, model.max_archive_bytes) == (64, 1000)
    (model,) = load_settings([*MODEL, "--max_records_per_batch", "8", "--max_archive_bytes", "5000"], {}).models
    assert (model.max_records_per_batch, model.max_archive_bytes) == (8, 5000)
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a"}))
    (model,) = load_settings(["--config_path", str(path)], {"OVSERVE_MAX_RECORDS_PER_BATCH": "16"}).models
    assert model.max_records_per_batch == 16


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OVSERVE_MAX_RECORDS_PER_BATCH": "abc"}, "--max_records_per_batch: expected an integer from 1 to 1000000, got 'abc'"),
        ({"OVSERVE_MAX_RECORDS_PER_BATCH": "0"}, "--max_records_per_batch: expected an integer from 1 to 1000000, got '0'"),
        ({"OVSERVE_MAX_ARCHIVE_BYTES": "20G"}, "--max_archive_bytes: expected an integer from 1 to 1125899906842624, got '20G'"),
        ({"OVSERVE_MAX_ARCHIVE_BYTES": "-5"}, "--max_archive_bytes: expected an integer from 1 to 1125899906842624, got '-5'"),
    ],
)
def test_bad_limits_stop_every_front_end_with_one_line(tmp_path, environ, message):
    from ovserve.aws_lambda import settings as lambda_settings
    from ovserve.sagemaker import settings as sagemaker_settings

    assert config_error(MODEL, environ) == message
    for load in (
        lambda: sagemaker_settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path), **environ}),
        lambda: sagemaker_settings.load([], {"SAGEMAKER_MULTI_MODEL": "true", **environ}),
        lambda: lambda_settings.load({"MODEL_PATH": str(tmp_path), **environ}),
    ):
        with pytest.raises(ConfigError) as caught:
            load()
        assert str(caught.value) == message


# --- OVMS stateful-model keys: accepted only when they ask for nothing ---------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"stateful": False},
        {"stateful": False, "low_latency_transformation": False},
        {"idle_sequence_cleanup": True},
        {"idle_sequence_cleanup": False, "max_sequence_number": 500},
        {"stateful": False, "idle_sequence_cleanup": True, "max_sequence_number": 0, "low_latency_transformation": False},
    ],
)
def test_stateful_keys_that_ask_for_nothing_are_accepted(tmp_path, extra):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a", **extra}))
    assert [m.name for m in load_settings(["--config_path", str(path)], {}).models] == ["a"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"stateful": True}, "model_config_list[0].config.stateful: stateful models are not supported; expected false, got 'true'"),
        ({"low_latency_transformation": True},
         "model_config_list[0].config.low_latency_transformation: the low latency transformation (for stateful models) "
         "is not supported; expected false, got 'true'"),
        ({"stateful": "yes please"}, "model_config_list[0].config.stateful: expected true or false, got 'yes please'"),
        ({"idle_sequence_cleanup": 3}, "model_config_list[0].config.idle_sequence_cleanup: expected true or false, got '3'"),
        ({"max_sequence_number": "many"},
         "model_config_list[0].config.max_sequence_number: expected an integer from 0 to 4294967295, got 'many'"),
    ],
)
def test_stateful_keys_that_ask_for_the_feature_stop_start_up(tmp_path, extra, message):
    path = write_config(tmp_path, models_document({"name": "a", "base_path": "/a", **extra}))
    assert config_error(["--config_path", str(path)]) == message


def test_enable_batching_is_server_wide_and_a_models_own_key_wins(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_config_list": [
        {"config": {"name": "a", "base_path": "a"}}, {"config": {"name": "b", "base_path": "b", "batching": False}},
        {"config": {"name": "c", "base_path": "c", "batching": {"batch_timeout_micros": 0}}}]}))
    (tmp_path / "params.pbtxt").write_text("max_batch_size { value: 12 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 12\n")
    config = ["--config_path", str(tmp_path / "config.json")]
    a, b, c = load_settings([*config, "--enable_batching", "--batching_parameters_file", str(tmp_path / "params.pbtxt")]).models
    assert a.batching is not None and (a.batching.max_batch_size, a.batching.allowed_batch_sizes) == (12, (4, 12))
    assert b.batching is None and c.batching is not None and (c.batching.max_batch_size, c.batching.batch_timeout_micros) == (32, 0)
    (only,) = load_settings(["--model_name", "m", "--model_path", str(tmp_path)], {"OVSERVE_ENABLE_BATCHING": "true"}).models
    assert only.batching is not None and only.batching.max_batch_size == 32  # the flag alone: the defaults
    assert load_settings(config).models[0].batching is None  # off by default
    with pytest.raises(ConfigError, match="--batching_parameters_file: given without --enable_batching"):
        load_settings([*config, "--batching_parameters_file", str(tmp_path / "params.pbtxt")])
