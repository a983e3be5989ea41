"""The repository over a real S3 store (moto's server on 127.0.0.1), in process.

Covers what only a remote store makes possible: a version whose files are
still arriving, objects that vanish mid-download, and keys the local file
system cannot hold. Downloads are held open with a gate (tests/handler/gated_storage.py),
never with sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import numpy as np
import pytest

from ovserve.handler.engine import Engine, InferRequest
from ovserve.handler.errors import NotFound, NotReady
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.values import VersionPolicy
from ovserve.handler.status import VersionStatus
from tests import models
from tests.handler.gated_storage import hold_downloads
from tests.storage_servers import Azurite, GcsEmulator, MotoS3

DEADLINE_SECONDS = 30
_buckets = itertools.count(1)


@pytest.fixture(scope="module")
def moto():
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def bucket(moto, monkeypatch) -> str:
    """A fresh bucket, and the environment an in-process S3Storage reads to reach it."""
    for name, value in moto.env("testing").items():
        monkeypatch.setenv(name, value)
    name = f"models-{next(_buckets)}"
    moto.create_bucket(name)
    return name


def engine_for(url: str, cache, policy: VersionPolicy | None = None) -> Engine:
    config = ModelConfig(name="m", base_path=url, plugin_config=dict(models.F32), version_policy=policy or VersionPolicy())
    return Engine.from_configs([config], storage_cache_dir=str(cache))


def x_zeros(signature) -> dict[str, np.ndarray]:
    return {"x": np.zeros((1, 10), np.float32)}


async def value(engine: Engine, version: int | None = None) -> tuple[int, float]:
    prediction = await engine.predict(InferRequest("m", version, x_zeros))
    return prediction.version, float(prediction.outputs["y"][0, 0])


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def rows(engine: Engine) -> list[tuple[int, str]]:
    return [(s.version, s.state) for s in engine.status("m", None)]


def test_a_version_being_fetched_shows_loading_and_predicts_are_not_ready_until_it_arrives(moto, bucket, tmp_path):
    moto.upload_model(bucket, "add", 1, models.add_one(value=1.0), tmp_path)

    async def scenario():
        engine = engine_for(f"s3://{bucket}/add", tmp_path / "cache")
        gate = hold_downloads(engine.repository.get("m").storage, "1/model.bin")
        starting = asyncio.ensure_future(engine.start())
        try:
            await until(gate.entered.is_set, "version 1's download")
            status = engine.status("m", None)
            with pytest.raises(NotReady) as predicted:
                await value(engine)
            with pytest.raises(NotReady) as pinned:
                await value(engine, 1)
            with pytest.raises(NotReady):
                await engine.metadata("m", None)
            reason = engine.not_ready_reason()
        finally:
            gate.open()
            await starting
        try:
            return status, predicted.value, pinned.value, reason, engine.status("m", None), await value(engine)
        finally:
            await engine.stop()

    status, predicted, pinned, reason, after, answered = asyncio.run(scenario())
    assert status == [VersionStatus(1, "LOADING", "OK", "")]
    assert predicted.kind == "not_ready" and "version 1 is being fetched from storage" in predicted.message
    assert "'m'" in predicted.message
    assert "version 1 is being fetched from storage" in pinned.message
    assert reason is not None and "model m" in reason and "version 1 is being fetched from storage" in reason
    assert after == [VersionStatus(1, "AVAILABLE", "OK", "")]
    assert answered == (1, 1.0)


@pytest.mark.parametrize("loaded", [False, True], ids=["lazy", "eager"])
def test_a_new_version_that_vanishes_mid_download_never_displaces_the_serving_one(moto, bucket, tmp_path, caplog, loaded):
    moto.upload_model(bucket, "add", 1, models.add_one(value=1.0), tmp_path)

    async def scenario():
        engine = engine_for(f"s3://{bucket}/add", tmp_path / "cache")
        await engine.start()
        try:
            if loaded:
                assert await value(engine) == (1, 1.0)  # version 1 compiled: the next version is compiled before it serves
            moto.upload_model(bucket, "add", 2, models.add_one(value=2.0), tmp_path)
            gate = hold_downloads(engine.repository.get("m").storage, "2/model.bin")
            scan = asyncio.ensure_future(engine.repository.refresh_all())
            try:
                await until(gate.entered.is_set, "version 2's download")
                moto.delete_version(bucket, "add", 2)  # the object disappears while it is being fetched
            finally:
                gate.open()
                await scan
            after_failure = rows(engine), await value(engine), engine.not_ready_reason()
            await engine.repository.refresh_all()  # version 2 is gone from the listing now: nothing changes
            steady = rows(engine), await value(engine)
            moto.upload_model(bucket, "add", 2, models.add_one(value=2.0), tmp_path)
            await engine.repository.refresh_all()
            return after_failure, steady, rows(engine), await value(engine)
        finally:
            await engine.stop()

    with caplog.at_level(logging.INFO, logger="ovserve.repository"):
        after_failure, steady, recovered, answered = asyncio.run(scenario())
    assert after_failure == ([(1, "AVAILABLE")], (1, 1.0), None)
    assert steady == ([(1, "AVAILABLE")], (1, 1.0))
    assert recovered == [(1, "END"), (2, "AVAILABLE")]
    assert answered == (2, 2.0)
    messages = [(r.getMessage(), getattr(r, "version", None)) for r in caplog.records]
    not_fetched = messages.index(("version not fetched", 2))
    first_unloading = messages.index(("version unloading", 1))
    assert first_unloading > not_fetched  # version 1 retired only when version 2 could serve, much later
    published = {("version available", 2), ("version available (loads on first use)", 2)}
    assert published & set(messages[:first_unloading])  # ...once version 2 was published


def put(moto: MotoS3, bucket: str, key: str, data: bytes) -> None:
    moto.client().put_object(Bucket=bucket, Key=key, Body=data)


@pytest.mark.parametrize(
    ("bad_key", "cause"),
    [("add/1/model.bin/x", "File exists"), (f"add/1/{'n' * 300}.txt", "File name too long")],
    ids=["key-under-a-file", "name-too-long"],
)
def test_a_key_the_cache_cannot_hold_fails_the_version_with_the_reason_and_recovers_once_removed(
    moto, bucket, tmp_path, bad_key, cause
):
    moto.upload_model(bucket, "add", 1, models.add_one(value=1.0), tmp_path)
    put(moto, bucket, bad_key, b"x")

    async def scenario():
        engine = engine_for(f"s3://{bucket}/add", tmp_path / "cache")
        await asyncio.wait_for(engine.start(), DEADLINE_SECONDS)  # never stuck LOADING
        try:
            [failed] = engine.status("m", None)
            reason = engine.not_ready_reason()
            with pytest.raises(NotFound) as predicted:
                await value(engine)
            await engine.repository.refresh_all()  # same files: not tried again
            unchanged = engine.status("m", None)
            moto.client().delete_object(Bucket=bucket, Key=bad_key)
            await engine.repository.refresh_all()  # its files changed: tried again
            return failed, reason, predicted.value.message, unchanged, rows(engine), await value(engine)
        finally:
            await engine.stop()

    failed, reason, predicted, unchanged, recovered, answered = asyncio.run(scenario())
    assert (failed.version, failed.state, failed.error_code) == (1, "END", "UNKNOWN")
    assert failed.error_message.startswith("failed to load: ") and cause in failed.error_message
    assert reason is not None and cause in reason
    assert "no version available" in predicted
    assert unchanged == [failed]
    assert recovered == [(1, "AVAILABLE")]
    assert answered == (1, 1.0)


@pytest.fixture(params=[GcsEmulator, Azurite], ids=["gcs", "azure"])
def other_store(request, monkeypatch):
    """GCS and Azure emulators: their download paths must report a write failure as the version's, too."""
    server = request.param()
    for name, value in server.env("testing").items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def test_a_name_too_long_fails_the_version_on_gcs_and_azure_too_not_as_a_storage_outage(other_store, tmp_path):
    other_store.create_bucket("models")
    other_store.upload_model("models", "add", 1, models.add_one(value=1.0), tmp_path)
    long_file = tmp_path / "long.txt"
    long_file.write_bytes(b"x")
    other_store.put_file("models", f"add/1/{'n' * 300}.txt", long_file)

    async def scenario():
        engine = engine_for(other_store.url("models", "add"), tmp_path / "cache")
        await asyncio.wait_for(engine.start(), DEADLINE_SECONDS)
        try:
            return engine.status("m", None)
        finally:
            await engine.stop()

    [failed] = asyncio.run(scenario())
    assert (failed.version, failed.state) == (1, "END")
    assert "File name too long" in failed.error_message and "cannot reach" not in failed.error_message
