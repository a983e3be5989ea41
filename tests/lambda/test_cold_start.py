"""Init and cold start: init errors, preload, the baked compiled-model cache, and what the handler imports."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_bad_model_path_fails_init_with_a_clear_error(start_function, tmp_path):
    function = start_function({"MODEL_PATH": str(tmp_path / "no-such-folder")})
    _, answer = function.invoke({"instances": [[1, 2, 3]]})
    assert answer["errorType"] == "ConfigError" and "no servable model" in answer["errorMessage"], answer
    assert "RUNTIME = _init()" in "".join(answer["stackTrace"])  # raised while importing: an init error
    log = function.read_log()
    assert "no servable model" in log and "no-such-folder" in log and "MODEL_PATH" in log, log


def test_bad_settings_fail_init_naming_the_variable(start_function, vector_model):
    function = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_PLUGIN_CONFIG": "{not json"})
    _, answer = function.invoke({"instances": [[1, 2, 3]]})
    assert answer["errorType"] == "ConfigError" and "plugin_config" in answer["errorMessage"], answer


def test_lazy_by_default_and_preload_compiles_during_init(start_function, vector_model):
    lazy = start_function({"MODEL_PATH": str(vector_model)})
    lazy.invoke({"instances": [[1, 2, 3]]})
    log = lazy.read_log()
    assert log.index('"msg": "init done"') < log.index('"msg": "model version loaded"')
    eager = start_function({"MODEL_PATH": str(vector_model), "PRELOAD": "1"})
    eager.invoke({"instances": [[1, 2, 3]]})
    log = eager.read_log()
    assert log.index('"msg": "model version loaded"') < log.index('"msg": "init done"')


def test_a_baked_cache_turns_the_cold_compile_into_a_cache_load(start_function, vector_model, tmp_path):
    cache = tmp_path / "baked-cache"
    env = {**os.environ, "MODEL_PATH": str(vector_model), "OVSERVE_CACHE_DIR": str(cache),
           "OVSERVE_PLUGIN_CONFIG": '{"INFERENCE_PRECISION_HINT": "f32"}'}
    baked = subprocess.run([sys.executable, "-m", "ovserve.aws_lambda.bake"], env=env, capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
    assert baked.returncode == 0 and "compiled-model cache ready" in baked.stdout, baked.stderr[-3000:]
    blobs = list(cache.iterdir())
    assert blobs and all(oct(p.stat().st_mode)[-3:] == "644" for p in blobs)  # readable by Lambda's non-root user
    cold = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_CACHE_DIR": str(cache)})
    _, answer = cold.invoke({"instances": [[1, 2, 3]]})
    assert answer == {"predictions": [[3.0, 4.0, 5.0]]}
    assert '"from_cache": true' in cold.read_log()
    uncached = start_function({"MODEL_PATH": str(vector_model), "OVSERVE_CACHE_DIR": str(tmp_path / "empty-cache")})
    uncached.invoke({"instances": [[1, 2, 3]]})
    assert '"from_cache": false' in uncached.read_log()


def test_the_handler_imports_no_web_framework_grpc_boto3_or_tensorflow(vector_model, tmp_path):
    code = ("import sys, ovserve.aws_lambda.handler; "
            "print(sorted(m for m in ('sanic', 'grpc', 'boto3', 'botocore', 'tensorflow', 'uvloop') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "MODEL_PATH": str(vector_model), "HOME": str(tmp_path)})
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr[-2000:]


def test_home_moves_to_tmp_when_it_is_not_writable(tmp_path):
    from ovserve.aws_lambda.settings import writable_home

    for missing in ({}, {"HOME": str(tmp_path / "not-there")}):
        writable_home(missing)
        assert missing["HOME"] == "/tmp"
    environ = {"HOME": str(tmp_path)}
    writable_home(environ)
    assert environ["HOME"] == str(tmp_path)


def test_snapstart_compiles_before_the_snapshot_through_awslambdarics_hook_runner(vector_model, tmp_path):
    code = "\n".join([
        "import ovserve.aws_lambda.handler as h",
        "from awslambdaric import lambda_runtime_hooks_runner",
        "version = h.RUNTIME.engine.repository.models['model'].default_entry()",
        "print('before', version.served.is_loaded)",
        "lambda_runtime_hooks_runner.run_before_snapshot()",
        "print('after', version.served.is_loaded)",
        "print(h.handler({'instances': [[1, 2, 3]]}))",
    ])
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "MODEL_PATH": str(vector_model), "HOME": str(tmp_path),
                              "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", "PRELOAD": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == ["before False", "after True", "{'predictions': [[3.0, 4.0, 5.0]]}"]
