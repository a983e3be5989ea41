"""The real images, built with podman and run as users run them: standalone, SageMaker ``serve``, and Lambda behind the RIE.

Marked ``images``: ``make test-images`` runs this module alone, and ``make test`` runs it with everything else. A machine
where podman cannot work fails here with the reason; it is never skipped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2 as apis
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc as services
from tests.images import podman as pm
from tests.lambda_events import http_v2
from tests.lambdaproc import free_ports, rie_path

pytestmark = [pytest.mark.images, pytest.mark.timeout(2400)]  # the `images` fixture (conftest.py) builds once a session

F32 = json.dumps(models.F32)
X = np.array([[1, 2, 3], [4.5, 5, 6]], dtype=np.float32)


@pytest.fixture
def containers():
    """Start containers with ``start(*args)``; every one is removed at teardown."""
    started: list[str] = []

    def start(*args: str) -> str:
        cid = pm.podman("run", "-d", "--network=host", *pm.limits(), *args).stdout.strip()
        started.append(cid)
        return cid

    yield start
    for cid in started:
        pm.podman("rm", "-f", "-t", "0", cid, check=False)


def wait_for(url: str, cid: str, timeout: float = 120) -> float:
    """Seconds until ``url`` answers 200 (polling); fails with the container's log if it never does."""
    started = time.monotonic()
    with httpx.Client(timeout=5) as client:
        while time.monotonic() - started < timeout:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            state = pm.podman("inspect", cid, "--format", "{{.State.Status}}").stdout.strip()
            assert state == "running", pm.podman("logs", cid, check=False).stderr[-3000:]
            time.sleep(0.05)
    raise AssertionError(f"{url} not ready: {pm.podman('logs', cid, check=False).stderr[-3000:]}")


def model_repo(root: Path) -> Path:
    models.write_version(root / "m", 1, models.add_one(shape=(-1, 3), value=1.0))
    return root


def test_server_image_serves_rest_and_grpc_from_ovms_flags(images, containers, tmp_path):
    rest, grpc_port = free_ports(2)
    cid = containers("-v", f"{model_repo(tmp_path)}:/models:ro", images["server"], "--model_name", "m", "--model_path",
                     "/models/m", "--rest_port", str(rest), "--rest_bind_address", "127.0.0.1", "--port", str(grpc_port),
                     "--grpc_bind_address", "127.0.0.1", "--plugin_config", F32)
    wait_for(f"http://127.0.0.1:{rest}/v2/health/ready", cid)
    reply = httpx.post(f"http://127.0.0.1:{rest}/v1/models/m:predict", json={"instances": X.tolist()}, timeout=30)
    assert reply.status_code == 200 and np.allclose(reply.json()["predictions"], X + 1)
    request = apis.PredictRequest()
    request.model_spec.name = "m"
    tensor_proto.fill(request.inputs["x"], X)
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        response = services.PredictionServiceStub(channel).Predict(request, timeout=30)
    assert np.allclose(tensor_proto.to_array("y", response.outputs["y"]), X + 1)


def test_server_image_serve_is_a_sagemaker_endpoint_that_stops_gracefully(images, containers, tmp_path):
    (port,) = free_ports(1)
    cid = containers("-v", f"{model_repo(tmp_path)}/m:/opt/ml/model:ro", "-e", f"SAGEMAKER_BIND_TO_PORT={port}",
                     "-e", f"OVSERVE_PLUGIN_CONFIG={F32}", images["server"], "serve")
    wait_for(f"http://127.0.0.1:{port}/ping", cid)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        reply = client.post("/invocations", json=X.tolist())
        assert reply.status_code == 200 and np.allclose(reply.json()["predictions"], X + 1)
        reply = client.post("/invocations", content=b"1,2,3\n4,5,6", headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        assert reply.text == "2.0,3.0,4.0\n5.0,6.0,7.0"
    started = time.monotonic()
    pm.podman("stop", "-t", "25", cid)
    assert time.monotonic() - started < 10
    assert pm.podman("inspect", cid, "--format", "{{.State.ExitCode}}").stdout.strip() == "0"
    assert '"msg": "stopped"' in pm.podman("logs", cid).stderr


def test_lambda_image_runs_read_only_as_a_user_from_its_baked_cache(images, containers):
    port, api = free_ports(2)
    cid = containers("--read-only", "--user", "1000", "--tmpfs", "/tmp", "-v", f"{rie_path()}:/aws-lambda/aws-lambda-rie:ro",
                     "--entrypoint", "/aws-lambda/aws-lambda-rie", images["lambda"],
                     "--runtime-interface-emulator-address", f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api}",
                     "/usr/local/bin/python", "-m", "awslambdaric", "ovserve.aws_lambda.handler.handler")
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    with httpx.Client(timeout=120) as client:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = client.post(url, content=json.dumps(http_v2("POST", "/invocations", body="0\n100",
                                                                     headers={"Content-Type": "text/csv"})))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, pm.podman("logs", cid, check=False).stderr[-3000:]
                time.sleep(0.05)
        answer = reply.json()
        assert answer["statusCode"] == 200, answer
        predictions = json.loads(answer["body"])["predictions"]
        assert predictions[1]["fahrenheit"] == pytest.approx(212.0, rel=1e-2)
        direct = client.post(url, content=json.dumps({"instances": [37]})).json()
        assert direct["predictions"][0]["kelvin"] == pytest.approx(310.15, rel=1e-2)
    logs = pm.podman("logs", cid).stdout + pm.podman("logs", cid).stderr
    assert '"from_cache": true' in logs and "Read-only file system" not in logs
    changed = {line.split(" ", 1)[1] for line in pm.podman("diff", cid).stdout.splitlines() if line.strip()}
    podmans_own = {"/aws-lambda", "/aws-lambda/aws-lambda-rie", "/etc", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname",
                   "/run", "/run/.containerenv", "/tmp"}
    assert changed <= podmans_own, changed - podmans_own


def test_image_sizes_meet_their_goals(images):
    assert pm.image_size_mb(images["server"]) <= 700
    assert pm.image_size_mb(images["lambda"]) <= 600


HANDLER_SCRIPT = '''
    """A handler as written for AWS's TF Serving container: CSV in, a TF Serving REST call with requests, JSON out."""
    import json

    import requests

    import rows  # code/lib/rows.py


    def handler(data, context):
        instances = rows.parse(data.read().decode())
        answer = requests.post(context.rest_uri, data=json.dumps({"instances": instances}), timeout=30)
        answer.raise_for_status()
        return json.dumps({"doubled": [[2 * v for v in row] for row in answer.json()["predictions"]]}), "application/json"
'''
ROWS_LIB = '''
    def parse(text):
        return [[float(v) for v in line.split(",")] for line in text.splitlines() if line]
'''


def test_server_image_runs_a_model_tar_gz_with_code_inference_py_unchanged(images, containers, tmp_path):
    from tests.sagemaker.script_archives import extracted, tarball

    archive = tarball(tmp_path / "model.tar.gz", {1: models.add_one(shape=(-1, 3), value=1.0)},
                      code={"inference.py": HANDLER_SCRIPT, "lib/rows.py": ROWS_LIB})
    model_dir = extracted(archive, tmp_path / "model")
    (port,) = free_ports(1)
    cid = containers("-v", f"{model_dir}:/opt/ml/model:ro", "-e", f"SAGEMAKER_BIND_TO_PORT={port}",
                     "-e", "OVSERVE_SCRIPT_REST_PORT=0", "-e", "OVSERVE_SCRIPT_GRPC_PORT=0",
                     "-e", f"OVSERVE_PLUGIN_CONFIG={F32}", images["server"], "serve")
    wait_for(f"http://127.0.0.1:{port}/ping", cid)
    csv = "\n".join(",".join(str(v) for v in row) for row in X.tolist())
    reply = httpx.post(f"http://127.0.0.1:{port}/invocations", content=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(reply.json()["doubled"], 2 * (X + 1))  # the script's requests call reached the loopback REST API
