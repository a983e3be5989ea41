"""``serve`` start-up and shutdown: /ping before and after the model can serve, failed loads, layouts, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import openvino as ov
import pytest

from tests import models
from tests.serverproc import REPO


def wait_for_log(server, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.read_log():
        assert server.process.poll() is None and time.monotonic() < deadline, server.read_log()
        time.sleep(0.02)


def test_ping_is_503_while_the_model_compiles_and_200_once_it_can_serve(start_sagemaker, tmp_path):
    models.write_version(tmp_path / "model", 1, models.slow_compile())
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(tmp_path / "model")}, ready=False)
    wait_for_log(server, "SageMaker endpoint listening")  # port open, compile under way
    early = server.client.get("/ping")
    assert early.status_code == 503 and "loading" in early.json()["error"]
    server.wait_ready()
    assert "model version loaded" in server.read_log()  # ready means compiled, not merely found
    reply = server.client.post("/invocations", content=b"[" + b",".join([b"0"] * 64) + b"]",
                               headers={"Content-Type": "application/jsonlines"})
    assert reply.status_code == 200, reply.text


def test_a_model_that_fails_to_load_keeps_ping_failing_with_the_reason_logged(start_sagemaker, tmp_path):
    (tmp_path / "model" / "1").mkdir(parents=True)
    (tmp_path / "model" / "1" / "model.xml").write_text("<net>not a model")
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(tmp_path / "model")}, ready=False)
    wait_for_log(server, "not ready: /ping answers 503")
    ping = server.client.get("/ping")
    assert ping.status_code == 503 and "cannot read model.xml" in ping.json()["error"]
    log = server.read_log()
    assert '"msg": "version failed to load"' in log and "cannot read model.xml" in log


def test_bare_model_files_are_served_as_version_one_named_model(start_sagemaker, tmp_path):
    folder = tmp_path / "opt-ml-model"
    folder.mkdir()
    ov.save_model(models.add_one(shape=(-1, 3), value=5.0), folder / "model.xml", compress_to_fp16=False)
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(folder)})
    reply = server.client.post("/invocations", content=b"1,2,3", headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert reply.status_code == 200 and reply.text == "6.0,7.0,8.0"
    reply = server.client.post("/invocations", content=b"[[1,2,3]]",
                               headers={"X-Amzn-SageMaker-Custom-Attributes": "tfs-model-name=model,tfs-model-version=1"})
    assert reply.json() == {"predictions": [[6.0, 7.0, 8.0]]}


def test_magika_onnx_model_answers_like_openvino_in_process(start_sagemaker, tmp_path):
    """A real pretrained ONNX model from a wheel, sent as npy and answered as npy."""
    import io

    path = models.magika_onnx()
    folder = tmp_path / "magika"
    (folder / "1").mkdir(parents=True)
    (folder / "1" / "model.onnx").write_bytes(path.read_bytes())
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(folder)})
    compiled = ov.Core().compile_model(str(path), "CPU", models.F32)
    name = compiled.inputs[0].get_any_name()
    shape = [d if d > 0 else 2 for d in compiled.inputs[0].get_partial_shape().get_min_shape()]
    sample = np.random.default_rng(1).integers(0, 256, size=shape).astype(np.int32)
    expected = models.reference(path, {name: sample})
    buffer = io.BytesIO()
    np.save(buffer, sample)
    reply = server.client.post("/invocations", content=buffer.getvalue(),
                               headers={"Content-Type": "application/x-npy", "Accept": "application/x-npz"})
    assert reply.status_code == 200, reply.text
    got = np.load(io.BytesIO(reply.content))
    for output, value in expected.items():
        assert np.allclose(got[output], value, atol=1e-5)


def test_sigterm_lets_the_invocation_in_flight_finish(start_sagemaker, tmp_path):
    models.write_version(tmp_path / "model", 1, models.slow())
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(tmp_path / "model"), "LOG_LEVEL": "DEBUG"})
    result: dict = {}

    def ask() -> None:
        reply = server.client.post("/invocations", content=b"[1.0]", headers={"Content-Type": "application/json"})
        result["status"], result["body"] = reply.status_code, reply.json()

    client = threading.Thread(target=ask)
    client.start()
    wait_for_log(server, '"msg": "invocation"')  # the request is past the door and inferring
    server.process.send_signal(signal.SIGTERM)
    client.join(timeout=30)
    assert result["status"] == 200 and result["body"]["predictions"] == pytest.approx(1.0, rel=1e-3)
    assert server.process.wait(timeout=10) == 0
    assert '"in_flight": 1' in server.read_log()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SAGEMAKER_BIND_TO_PORT": "eighty"}, "SAGEMAKER_BIND_TO_PORT"),
        ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "500"}, "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        ({"SAGEMAKER_BATCH_STRATEGY": "SOMETIMES"}, "SAGEMAKER_BATCH_STRATEGY"),
        ({"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "image/png"}, "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"),
        ({"OVSERVE_PLUGIN_CONFIG": "{not json"}, "plugin_config"),
        ({"SAGEMAKER_MULTI_MODEL": "true", "OVSERVE_MODEL_NAME": "x"}, "multi-model"),
    ],
)
def test_bad_settings_exit_2_with_one_line_naming_them(tmp_path, env, fragment):
    import os

    run = subprocess.run([sys.executable, "-m", "ovserve.sagemaker", "serve"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "OVSERVE_MODEL_PATH": str(tmp_path), **env})
    assert run.returncode == 2 and fragment in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_the_readme_sagemaker_example_answers_as_documented(start_sagemaker):
    readme = (REPO / "README.md").read_text()
    documented = readme.split("curl -H 'Content-Type: text/csv' -d $'0\\n100' http://localhost:8080/invocations\n# ", 1)[1]
    documented = documented.splitlines()[0]
    server = start_sagemaker({"OVSERVE_MODEL_PATH": str(REPO / "examples" / "models" / "temperature")})
    reply = server.client.post("/invocations", content=b"0\n100", headers={"Content-Type": "text/csv"})
    assert reply.status_code == 200 and reply.text == documented
