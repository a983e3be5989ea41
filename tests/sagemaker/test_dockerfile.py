"""The Dockerfile: lint clean, SageMaker's labels, and its install and entry point steps replayed without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests import models
from tests.dockerfile_steps import Replay, instructions, labels
from tests.sagemakerproc import SageMakerServer
from tests.serverproc import REPO, free_port

DOCKERFILE = REPO / "Dockerfile"


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    run = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr


def test_sagemaker_labels_and_an_exec_form_entrypoint():
    found = labels(DOCKERFILE)
    assert found["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert found["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    entrypoints = [step.argument for step in instructions(DOCKERFILE) if step.keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1 and isinstance(json.loads(entrypoints[0]), list)
    assert instructions(DOCKERFILE)[0].keyword == "FROM" and "slim" in instructions(DOCKERFILE)[0].argument


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Replay:
    """The Dockerfile's steps run once in a fresh venv under a scratch root."""
    replay = Replay(tmp_path_factory.mktemp("image"), REPO)
    replay.run_all(DOCKERFILE)
    return replay


def test_the_image_leaves_no_source_tree_and_no_test_tools(image):
    assert not (image.root / "opt" / "ovserve" / "src").exists()
    installed = subprocess.run([str(image.venv / "bin" / "pip"), "list", "--format=json"], capture_output=True, text=True,
                               env=image.env, check=True)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert {"ovserve", "openvino", "sanic", "grpcio", "boto3", "msgpack"} <= names
    assert not names & {"pytest", "ruff", "moto", "tensorflow", "grpcio-tools"}
    # GCS and Azure clients are opt-in (EXTRAS build argument): an AWS image carries neither stack.
    assert not names & {"google-cloud-storage", "google-auth", "google-api-core", "azure-storage-blob", "azure-core"}


def test_serve_starts_sagemaker_mode_as_the_image_would(image, tmp_path):
    models.write_version(tmp_path / "model", 1, models.add_one(shape=(-1, 3), value=1.0))
    env = {**image.env, "OVSERVE_MODEL_PATH": str(tmp_path / "model"),
           "OVSERVE_PLUGIN_CONFIG": json.dumps(models.F32)}
    server = SageMakerServer(env, tmp_path / "serve.log", command=image.command()[:1], cwd=image.workdir)
    try:
        server.wait_ready()
        reply = server.client.post("/invocations", content=b"1,2,3", headers={"Content-Type": "text/csv"})
        assert reply.status_code == 200 and np.allclose(reply.json()["predictions"], [[2, 3, 4]])
        cache = Path(image.env["OVSERVE_CACHE_DIR"])
        assert any(cache.iterdir()), "the compiled-model cache stayed empty"
        assert os.stat(cache).st_mode & 0o1777 == 0o1777
    finally:
        assert server.stop() == 0, server.read_log()


def test_ovms_flags_start_the_standalone_server(image, tmp_path):
    models.write_version(tmp_path / "m", 1, models.add_one(shape=(-1, 3)))
    port = free_port()
    process = subprocess.Popen(
        image.command("--model_name", "m", "--model_path", str(tmp_path / "m"), "--rest_port", str(port),
                      "--rest_bind_address", "127.0.0.1", "--port", "0", "--plugin_config", json.dumps(models.F32)),
        env=image.env, cwd=image.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:  # poll the readiness probe until the model is served
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()[-3000:]
                try:
                    if client.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            reply = client.post("/v1/models/m:predict", json={"instances": [[1, 2, 3]]})
            assert reply.json() == {"predictions": [[2.0, 3.0, 4.0]]}
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        process.stderr.close()
    assert code == 0


def test_the_default_command_prints_usage(image):
    run = subprocess.run(image.command(), env=image.env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--model_name" in run.stdout and "--config_path" in run.stdout
