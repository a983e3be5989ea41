"""Models served from buckets (moto's S3 server, gcp-storage-emulator, Azurite, all on 127.0.0.1).

Versions come and go, outages pass, secrets stay out of the logs.
"""

from __future__ import annotations

import tarfile
import time

import pytest

from tests import models
from tests.storage_servers import AZURITE_KEY, Azurite, GcsEmulator, MotoS3

SECRET = "SECRET-never-logged-4f2a"
X = {"instances": [[0.0] * 10]}


@pytest.fixture(params=[MotoS3, GcsEmulator, Azurite], ids=["s3", "gcs", "azure"])
def bucket_server(request):
    server = request.param()
    yield server
    server.stop()


def wait_until(condition, what: str, server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {server.read_log()}"
        time.sleep(0.1)


def states(server) -> dict[str, str]:
    response = server.client.get("/v1/models/add")
    return {row["version"]: row["state"] for row in response.json().get("model_version_status", [])}


def answer(server, version: int | None = None) -> tuple[int, float | None]:
    path = f"/v1/models/add/versions/{version}:predict" if version else "/v1/models/add:predict"
    response = server.client.post(path, json=X)
    return response.status_code, response.json()["predictions"][0][0] if response.status_code == 200 else None


def test_serve_update_survive_an_outage_and_recover(bucket_server, start_server, tmp_path):
    store = bucket_server
    store.create_bucket("models")
    store.upload_model("models", "zoo/add", 1, models.add_one(value=1.0), tmp_path)
    server = start_server(
        "--model_name", "add", "--model_path", store.url("models", "zoo/add"), "--model_version_policy", '{"all": {}}',
        "--file_system_poll_wait_seconds", "1", "--storage_cache_dir", str(tmp_path / "cache"), "--log_level", "DEBUG",
        env=store.env(SECRET),
    )
    assert answer(server) == (200, 1.0)

    store.upload_model("models", "zoo/add", 2, models.add_one(value=2.0), tmp_path)
    wait_until(lambda: states(server).get("2") == "AVAILABLE", "version 2 from the bucket", server)
    assert answer(server) == (200, 2.0)
    assert any((tmp_path / "cache").rglob("model.bin"))

    store.delete_version("models", "zoo/add", 1)
    wait_until(lambda: states(server).get("1") == "END", "version 1 gone", server)
    assert answer(server, 1)[0] == 404

    store.stop()  # outage: loaded versions keep answering
    wait_until(lambda: "storage still unreachable" in server.log_path.read_text(), "two failed polls", server)
    assert [answer(server) for _ in range(5)] == [(200, 2.0)] * 5

    store.start()  # the emulators start empty: the bucket comes back with a new version
    store.create_bucket("models")
    for version in (2, 3):
        store.upload_model("models", "zoo/add", version, models.add_one(value=float(version)), tmp_path)
    wait_until(lambda: states(server).get("3") == "AVAILABLE", "version 3 after the outage", server)
    assert answer(server) == (200, 3.0)

    log = server.log_path.read_text()
    assert log.count("storage unreachable; serving the versions already loaded") == 1
    assert "storage reachable again" in log
    assert SECRET not in log and AZURITE_KEY not in log


def test_wrong_bucket_stops_start_up_with_the_url(bucket_server, start_server):
    url = bucket_server.url("no-such-bucket", "add")
    server = start_server("--model_name", "add", "--model_path", url, env=bucket_server.env(SECRET), wait=False)
    assert server.process.wait(60) == 1
    log = server.log_path.read_text()
    assert url in log and "cannot list" in log
    assert SECRET not in log and AZURITE_KEY not in log


def test_model_tar_gz_in_a_bucket(start_server, tmp_path):
    store = MotoS3()
    try:
        source = models.write_version(tmp_path / "src", 1, models.add_one(value=7.0))
        archive = tmp_path / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:  # SageMaker style: the model at the archive's top
            for name in ("model.xml", "model.bin"):
                tar.add(source / name, arcname=name)
        store.create_bucket("artifacts")
        store.put_file("artifacts", "jobs/42/output/model.tar.gz", archive)
        server = start_server(
            "--model_name", "add", "--model_path", "s3://artifacts/jobs/42/output/model.tar.gz",
            "--storage_cache_dir", str(tmp_path / "cache"), env=store.env(SECRET),
        )
        assert answer(server) == (200, 7.0)
    finally:
        store.stop()


def test_ovms_style_s3_endpoint_and_anonymous_access(start_server, tmp_path):
    """``S3_ENDPOINT=host:port`` (as OVMS takes it) and no credentials anywhere: requests go unsigned."""
    store = MotoS3()
    try:
        store.create_bucket("public")
        store.upload_model("public", "zoo/add", 1, models.add_one(value=4.0), tmp_path)
        for name in ("model.xml", "model.bin"):  # a public model: anyone may read it
            store.client().put_object_acl(Bucket="public", Key=f"zoo/add/1/{name}", ACL="public-read")
        env = {
            "S3_ENDPOINT": f"127.0.0.1:{store.port}", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent"), "AWS_CONFIG_FILE": str(tmp_path / "absent"),
            "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookups beyond this machine
        }
        server = start_server("--model_name", "add", "--model_path", "s3://public/zoo/add", env=env)
        assert answer(server) == (200, 4.0)
    finally:
        store.stop()
