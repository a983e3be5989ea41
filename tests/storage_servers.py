"""Real storage servers on 127.0.0.1 for the tests: moto's S3 server (more emulators join here)."""

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


class MotoS3:
    """``python -m moto.server`` on a free port; ``restart`` keeps the port (and loses the data, as moto does)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def upload_model(self, bucket: str, prefix: str, version: int, model: ov.Model, scratch: Path) -> None:
        folder = scratch / f"upload-{prefix.replace('/', '_')}-{version}"
        folder.mkdir(parents=True, exist_ok=True)
        ov.save_model(model, folder / "model.xml", compress_to_fp16=False)
        client = self.client()
        for name in ("model.xml", "model.bin"):
            client.upload_file(str(folder / name), bucket, f"{prefix}/{version}/{name}")

    def delete_version(self, bucket: str, prefix: str, version: int) -> None:
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{version}/")
        for item in listed.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
