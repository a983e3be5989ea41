"""A bucket whose keys the local cache cannot hold: the Lambda init error names the real cause.

The Lambda runtime (in process) starts against moto's S3 server, as a cold
start with ``MODEL_PATH=s3://…`` does; a key too long for the file system
must fail init with that reason, not "no model files found" or a version stuck LOADING.
"""

from __future__ import annotations

import pytest

from ovserve.aws_lambda.runtime import Runtime
from ovserve.aws_lambda.settings import LambdaSettings
from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.config import ModelConfig
from tests import models
from tests.storage_servers import MotoS3


@pytest.fixture
def store(monkeypatch):
    server = MotoS3()
    for name, value in server.env("testing").items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def test_lambda_init_error_names_a_key_the_file_system_cannot_hold(store, tmp_path):
    store.create_bucket("models")
    store.upload_model("models", "add", 1, models.add_one(), tmp_path)
    store.client().put_object(Bucket="models", Key=f"add/1/{'v' * 300}.txt", Body=b"vocabulary")
    settings = LambdaSettings(
        models=(ModelConfig(name="model", base_path="s3://models/add", plugin_config=dict(models.F32)),),
        storage_cache_dir=str(tmp_path / "cache"),
    )
    runtime = Runtime(settings)
    try:
        with pytest.raises(ConfigError) as caught:
            runtime.start(compile_now=False)
        [status] = runtime.engine.status("model", None)
    finally:
        runtime.loop.call_soon_threadsafe(runtime.loop.stop)
    message = caught.value.message
    assert message.startswith("no servable model: model at s3://models/add: version 1 failed to load: ")
    assert "File name too long" in message
    assert (status.state, status.error_code) == ("END", "UNKNOWN")
