"""Real storage servers on 127.0.0.1 for the tests: moto's S3 server and gcp-storage-emulator.

Both offer the same small interface (start, stop, create_bucket, put_file,
delete_version, env, url) so one scenario runs against each.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import openvino as ov

from tests.serverproc import free_port


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"storage server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class _Emulator:
    """A storage server process on a free port; ``start`` after ``stop`` keeps the port and starts empty."""

    scheme = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.start()

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        """Terminate; kill if it lingers (Azurite waits for clients' keep-alive connections to close)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def url(self, bucket: str, path: str) -> str:
        return f"{self.scheme}://{bucket}/{path}"

    def upload_model(self, bucket: str, prefix: str, version: int, model: ov.Model, scratch: Path) -> None:
        folder = scratch / f"upload-{prefix.replace('/', '_')}-{version}"
        folder.mkdir(parents=True, exist_ok=True)
        ov.save_model(model, folder / "model.xml", compress_to_fp16=False)
        for name in ("model.xml", "model.bin"):
            self.put_file(bucket, f"{prefix}/{version}/{name}", folder / name)


class MotoS3(_Emulator):
    """moto's S3 server."""

    scheme = "s3"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def env(self, secret: str) -> dict:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
        }

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.client().upload_file(str(path), bucket, key)

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def delete_version(self, bucket: str, prefix: str, version: int) -> None:
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{version}/")
        for item in listed.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])


class GcsEmulator(_Emulator):
    """gcp-storage-emulator, in memory."""

    scheme = "gs"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(self.port),
                "--in-memory"]

    def env(self, secret: str) -> dict:
        # The emulator needs no credentials; the secret stands in a variable a real deployment could hold.
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "OVSERVE_TEST_SECRET_TOKEN": secret}

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint})

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(bucket)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.client().bucket(bucket).blob(key).upload_from_filename(str(path))

    def delete_version(self, bucket: str, prefix: str, version: int) -> None:
        for blob in self.client().list_blobs(bucket, prefix=f"{prefix}/{version}/"):
            blob.delete()


AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's public dev key


def azurite_binary() -> str:
    """Azurite from npm, installed by ``make test`` under .npm/ (or OVSERVE_AZURITE)."""
    import os

    from tests.serverproc import REPO

    path = os.environ.get("OVSERVE_AZURITE") or str(REPO / ".npm" / "node_modules" / ".bin" / "azurite-blob")
    assert Path(path).exists(), f"no Azurite at {path}: run `make test` (it installs azurite from npm)"
    return path


class Azurite(_Emulator):
    """Azurite's blob service, in memory."""

    scheme = "azure"

    def command(self) -> list[str]:
        return [azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
                "--skipApiVersionCheck", "--loose"]

    def connection_string(self, key: str = AZURITE_KEY) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
                f"BlobEndpoint={self.endpoint}/devstoreaccount1;")

    def env(self, secret: str) -> dict:
        # Azurite checks the key, so the real one is used; the test looks for it in the logs.
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string()}

    def client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def create_bucket(self, bucket: str) -> None:
        self.client().create_container(bucket)

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        with open(path, "rb") as data:
            self.client().get_container_client(bucket).upload_blob(key, data, overwrite=True)

    def delete_version(self, bucket: str, prefix: str, version: int) -> None:
        container = self.client().get_container_client(bucket)
        for blob in container.list_blobs(name_starts_with=f"{prefix}/{version}/"):
            container.delete_blob(blob.name)
