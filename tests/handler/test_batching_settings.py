"""Batching settings from config.json, TF Serving's --batching_parameters_file and SageMaker's environment."""

from __future__ import annotations

import pytest

from ovserve.handler.batching_settings import BatchingSettings, from_config, from_sagemaker_env, from_text_file
from ovserve.handler.errors import ConfigError


def one_line(caught: pytest.ExceptionInfo) -> str:
    message = caught.value.message
    assert "\n" not in message
    return message


def test_defaults_are_documented_values():
    settings = BatchingSettings()
    assert (settings.max_batch_size, settings.batch_timeout_micros, settings.max_enqueued_batches) == (32, 1000, 16)
    assert settings.allowed_batch_sizes == () and settings.num_batch_threads is None


def test_config_json_object_true_false_and_absent():
    settings = from_config(
        {"max_batch_size": 16, "batch_timeout_micros": 0, "max_enqueued_batches": 4, "allowed_batch_sizes": [4, 8, 16]}
    )
    assert settings == BatchingSettings(16, 0, 4, (4, 8, 16))
    assert from_config({}) == BatchingSettings()
    assert from_config(True) == BatchingSettings()
    assert from_config(False) is None and from_config(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"max_batch_size": 0}, "models[0].batching.max_batch_size: expected an integer from 1 to 1000000, got '0'"),
        ({"max_batch_size": "8"}, "models[0].batching.max_batch_size: expected an integer, got '8'"),
        ({"max_batch_size": True}, "models[0].batching.max_batch_size: expected an integer, got 'true'"),
        ({"batch_timeout_micros": -1}, "models[0].batching.batch_timeout_micros: expected an integer from 0 to 60000000"),
        ({"batch_timeout_micros": 1.5}, "models[0].batching.batch_timeout_micros: expected an integer, got '1.5'"),
        ({"max_enqueued_batches": 0}, "models[0].batching.max_enqueued_batches: expected an integer from 1"),
        ({"num_batch_threads": 0}, "models[0].batching.num_batch_threads: expected an integer from 1 to 1024"),
        ({"max_batch_size": 8, "allowed_batch_sizes": [2, 4]}, "allowed_batch_sizes: expected a strictly increasing list"),
        ({"max_batch_size": 8, "allowed_batch_sizes": [4, 4, 8]}, "ending with max_batch_size (8), got '[4, 4, 8]'"),
        ({"max_batch_size": 8, "allowed_batch_sizes": [0, 8]}, "allowed_batch_sizes: expected a strictly increasing"),
        ({"allowed_batch_sizes": 8}, "models[0].batching.allowed_batch_sizes: expected a list of integers, got '8'"),
        ({"max_batch": 8}, "models[0].batching: unknown key 'max_batch'; expected only max_batch_size"),
        ("yes", "models[0].batching: expected an object of max_batch_size"),
    ],
)
def test_config_json_bad_values_name_the_field(value, expected):
    with pytest.raises(ConfigError) as caught:
        from_config(value, where="models[0].batching")
    assert expected in one_line(caught)


def write(tmp_path, text: str):
    path = tmp_path / "batching.txt"
    path.write_text(text)
    return path


def test_tf_serving_text_file(tmp_path):
    path = write(tmp_path, """
        max_batch_size { value: 32 }
        batch_timeout_micros { value: 5000 }
        max_enqueued_batches { value: 100 }
        num_batch_threads { value: 4 }
        thread_pool_name { value: "batch_threads" }
        allowed_batch_sizes: 8
        allowed_batch_sizes: 16
        allowed_batch_sizes: 32
        pad_variable_length_inputs: false
        enable_large_batch_splitting { value: false }
    """)
    assert from_text_file(path) == BatchingSettings(32, 5000, 100, (8, 16, 32), 4)


def test_tf_serving_text_file_leaves_unset_fields_at_the_defaults(tmp_path):
    assert from_text_file(write(tmp_path, "max_batch_size { value: 8 }\n")) == BatchingSettings(max_batch_size=8)
    assert from_text_file(write(tmp_path, "")) == BatchingSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_batch_size { value: 8 }\nmax_batch_sise { value: 4 }\n",
         'line 2: Message type "tensorflow.serving.BatchingParameters" has no field named "max_batch_sise"'),
        ("max_batch_size: 8\n", "line 1:"),
        ("max_batch_size { value: 0 }\n", "max_batch_size: expected an integer from 1 to 1000000, got '0'"),
        ("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n", "allowed_batch_sizes: expected a strictly increasing"),
        ("pad_variable_length_inputs: true\n", "pad_variable_length_inputs: expected false"),
        ("enable_large_batch_splitting { value: true }\n", "enable_large_batch_splitting: expected false"),
    ],
)
def test_tf_serving_text_file_errors_name_the_file_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        from_text_file(path)
    message = one_line(caught)
    assert message.startswith(f"--batching_parameters_file {path}:")
    assert expected in message, message


def test_tf_serving_text_file_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError) as caught:
        from_text_file(tmp_path / "missing.txt")
    assert "cannot read it: No such file or directory" in one_line(caught)


def test_sagemaker_environment_with_the_container_defaults(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert from_sagemaker_env({}) is None
    assert from_sagemaker_env({"SAGEMAKER_TFS_ENABLE_BATCHING": "False"}) is None
    settings = from_sagemaker_env({"SAGEMAKER_TFS_ENABLE_BATCHING": "true"})
    assert settings == BatchingSettings(max_batch_size=8, batch_timeout_micros=1000, max_enqueued_batches=6)
    assert from_sagemaker_env({"SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_BATCH": "true"}).max_enqueued_batches == 100_000_000
    given = from_sagemaker_env({
        "SAGEMAKER_TFS_ENABLE_BATCHING": "TRUE", "SAGEMAKER_TFS_MAX_BATCH_SIZE": "16",
        "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "0", "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES": "3",
        "SAGEMAKER_TFS_NUM_BATCH_THREADS": "2",
    })
    assert given == BatchingSettings(16, 0, 3, (), 2)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SAGEMAKER_TFS_ENABLE_BATCHING": "yes"}, "SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false, got 'yes'"),
        ({"SAGEMAKER_TFS_MAX_BATCH_SIZE": "eight"}, "SAGEMAKER_TFS_MAX_BATCH_SIZE: expected an integer from 1"),
        ({"SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "-5"}, "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS: expected an integer from 0"),
        ({"SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES": "0"}, "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES: expected an integer from 1"),
        ({"SAGEMAKER_TFS_NUM_BATCH_THREADS": "1.5"}, "SAGEMAKER_TFS_NUM_BATCH_THREADS: expected an integer from 1"),
    ],
)
def test_sagemaker_environment_bad_values(env, expected):
    with pytest.raises(ConfigError) as caught:
        from_sagemaker_env({"SAGEMAKER_TFS_ENABLE_BATCHING": "true", **env} if "ENABLE" not in next(iter(env)) else env)
    assert expected in one_line(caught)
