"""SageMaker-mode settings from the environment: defaults, model folder layouts and validation."""

from __future__ import annotations

import json

import pytest

from ovserve.handler.errors import ConfigError
from ovserve.sagemaker import settings


def test_defaults_match_sagemakers_contract(tmp_path):
    loaded = settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path)})
    assert loaded.port == 8080 and loaded.max_payload_mb == 6 and not loaded.multi_model and not loaded.batch
    assert loaded.default_accept == "application/json" and loaded.batch_strategy == "MULTI_RECORD"
    assert [(m.name, m.base_path, m.preload) for m in loaded.server.models] == [("model", str(tmp_path), True)]
    assert loaded.server.file_system_poll_wait_seconds == 0
    assert 1 <= loaded.max_concurrent_transforms and loaded.max_concurrent_transforms * loaded.max_payload_mb <= 100


def test_the_model_folder_defaults_to_opt_ml_model():
    loaded = settings.load([], {})
    assert loaded.server.models[0].base_path == "/opt/ml/model"


def test_a_config_json_in_the_model_folder_serves_every_model_it_lists(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_config_list": [
        {"config": {"name": "a", "base_path": "a"}}, {"config": {"name": "b", "base_path": "b"}}]}))
    loaded = settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path), "SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "b"})
    assert [m.name for m in loaded.server.models] == ["a", "b"] and loaded.default_model == "b"
    assert loaded.server.models[0].base_path == str(tmp_path / "a")
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_DEFAULT_MODEL_NAME"):
        settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path), "SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "c"})


def test_flags_after_serve_win_over_the_environment(tmp_path):
    loaded = settings.load(["--model_name", "resnet", "--nireq", "3"], {"OVSERVE_MODEL_PATH": str(tmp_path), "OVSERVE_NIREQ": "1"})
    assert loaded.server.models[0].name == "resnet" and loaded.server.models[0].nireq == 3


def test_multi_model_endpoints_keep_model_flags_for_later_loads(tmp_path):
    loaded = settings.load([], {"SAGEMAKER_MULTI_MODEL": "true", "OVSERVE_PLUGIN_CONFIG": '{"NUM_STREAMS": "2"}',
                                "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"})
    assert loaded.multi_model and loaded.server.models == ()
    assert loaded.model_template.plugin_config == {"NUM_STREAMS": "2"}
    assert loaded.max_concurrent_transforms * 20 <= 100


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"SAGEMAKER_BIND_TO_PORT": "70000"}, "SAGEMAKER_BIND_TO_PORT"),
        ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}, "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        ({"SAGEMAKER_MULTI_MODEL": "maybe"}, "SAGEMAKER_MULTI_MODEL"),
        ({"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "-1"}, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"),
        ({"OVSERVE_MEMORY_RESERVE_MB": "lots"}, "OVSERVE_MEMORY_RESERVE_MB"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, environ, fragment):
    with pytest.raises(ConfigError, match=fragment):
        settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path), **environ})


def test_the_containers_batching_variables_apply_to_every_model_and_to_later_loads(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_config_list": [
        {"config": {"name": "a", "base_path": "a"}}, {"config": {"name": "b", "base_path": "b", "batching": False}},
        {"config": {"name": "c", "base_path": "c", "batching": {"max_batch_size": 2}}}]}))
    environ = {"OVSERVE_MODEL_PATH": str(tmp_path), "SAGEMAKER_TFS_ENABLE_BATCHING": "TRUE", "SAGEMAKER_TFS_MAX_BATCH_SIZE": "16"}
    a, b, c = settings.load([], environ).server.models
    assert a.batching is not None and (a.batching.max_batch_size, a.batching.batch_timeout_micros) == (16, 1000)
    assert b.batching is None and c.batching is not None and c.batching.max_batch_size == 2  # the model's own key wins
    multi = settings.load([], {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_TFS_ENABLE_BATCHING": "true"})
    assert multi.model_template.batching is not None and multi.model_template.batching.max_batch_size == 8
    assert settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path / "a")}).server.models[0].batching is None  # off by default


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [({"SAGEMAKER_TFS_ENABLE_BATCHING": "yes"}, "SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false"),
     ({"SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_TFS_MAX_BATCH_SIZE": "0"}, "SAGEMAKER_TFS_MAX_BATCH_SIZE")],
)
def test_bad_batching_variables_name_the_variable(tmp_path, environ, fragment):
    with pytest.raises(ConfigError, match=fragment):
        settings.load([], {"OVSERVE_MODEL_PATH": str(tmp_path), **environ})
