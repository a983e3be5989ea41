"""Start-up and shutdown with a script: ``code/requirements.txt`` installed with pip, every way a script can stop
start-up (its message on stderr, its traceback in the log), a drain that keeps the loopback servers up for the scripts
still running, and an endpoint without a script that loads none of the machinery."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from tests import models
from tests.sagemaker.script_archives import extracted, log_lines, started, tarball, wait_exit
from tests.serverproc import REPO

MODEL = {1: models.add_one(shape=(-1, 3))}


def _failed_start(tmp_path, code: dict[str, str], env: dict[str, str] | None = None) -> tuple[int, str, list[dict]]:
    archive = tarball(tmp_path / "model.tar.gz", versions=MODEL, code=code)
    server = started(tmp_path, extracted(archive, tmp_path / "opt-ml-model"), env)
    try:
        code_ = wait_exit(server)
    finally:
        server.stop()
    text = (tmp_path / "serve.log").read_text()
    return code_, text.strip().splitlines()[-1], log_lines(server)


def test_a_script_that_fails_to_import_stops_start_up_with_its_traceback(tmp_path):
    script = '''
        import json

        LABELS = json.loads("not json")
    '''
    code, last_line, lines = _failed_start(tmp_path, {"inference.py": script})
    assert code == 1
    assert last_line.startswith("ovserve serve: ") and "code/inference.py: importing it raised JSONDecodeError" in last_line
    failed = [line for line in lines if line.get("msg") == "script cannot serve; stopping"]
    assert len(failed) == 1
    traceback = failed[0]["traceback"]
    assert 'code/inference.py", line 4, in <module>' in traceback and 'LABELS = json.loads("not json")' in traceback
    assert "handler/scripts/loading.py" not in traceback  # the script's frames, not ovserve's


def test_a_script_with_no_handler_names_the_file_and_the_functions_looked_for(tmp_path):
    code, last_line, _ = _failed_start(tmp_path, {"inference.py": "def predict(data):\n    return data\n"})
    assert code == 1
    assert "code/inference.py: defines none of the functions a SageMaker script may; expected handler(data, context)" in last_line
    assert "input_handler(data, context) with output_handler(response, context)" in last_line and "model_fn(model_dir)" in last_line


def test_half_a_handler_pair_is_refused(tmp_path):
    code, last_line, _ = _failed_start(tmp_path, {"inference.py": "def input_handler(data, context):\n    return data.read()\n"})
    assert code == 1 and "defines input_handler but not output_handler" in last_line


def test_transform_fn_with_the_hooks_it_replaces_is_refused(tmp_path):
    script = "def transform_fn(model, data, content_type, accept):\n    return data\n\ndef input_fn(data, content_type):\n    return data\n"
    code, last_line, _ = _failed_start(tmp_path, {"inference.py": script})
    assert code == 1 and "defines transform_fn and input_fn; transform_fn replaces them" in last_line


def test_a_hook_with_the_wrong_parameters_is_refused(tmp_path):
    code, last_line, _ = _failed_start(tmp_path, {"inference.py": "def handler(data):\n    return data.read(), 'text/plain'\n"})
    assert code == 1 and "code/inference.py: handler takes 1 parameters; expected 2" in last_line


def test_a_requirement_pip_cannot_install_stops_start_up_with_pips_message(tmp_path):
    code, last_line, lines = _failed_start(tmp_path, {"inference.py": "def handler(d, c):\n    return b'', 'x'\n",
                                                      "requirements.txt": "this is not a requirement !!\n"})
    assert code == 1
    assert "code/requirements.txt: pip install failed with exit code" in last_line and "Invalid requirement" in last_line
    assert any("Invalid requirement" in line.get("pip_output", "") for line in lines)  # pip's whole output is logged


def test_sagemaker_program_naming_a_missing_file_stops_start_up(tmp_path):
    archive = tarball(tmp_path / "model.tar.gz", versions=MODEL, code={"inference.py": "def handler(d, c):\n    return b'', 'x'\n"})
    server = started(tmp_path, extracted(archive, tmp_path / "opt-ml-model"), {"SAGEMAKER_PROGRAM": "serve_me.py"})
    try:
        assert wait_exit(server) == 2
    finally:
        server.stop()
    assert "SAGEMAKER_PROGRAM: 'serve_me.py' is not in" in (tmp_path / "serve.log").read_text()


def test_requirements_are_installed_at_start_up_and_reused_by_the_next_start(tmp_path):
    script = '''
        import inflection  # from code/requirements.txt


        def handler(data, context):
            return inflection.camelize(data.read().decode()), "text/plain"
    '''
    archive = tarball(tmp_path / "model.tar.gz", versions=MODEL,
                      code={"inference.py": script, "requirements.txt": "inflection==0.5.1\n"})
    model_dir = extracted(archive, tmp_path / "opt-ml-model")
    for attempt in ("first", "second"):
        server = started(tmp_path, model_dir, name=attempt)
        try:
            server.wait_ready(timeout=180)
            reply = server.client.post("/invocations", content=b"device_type", headers={"Content-Type": "text/plain"})
            assert reply.status_code == 200 and reply.text == "DeviceType", reply.text
        finally:
            server.stop()
        ready = [line for line in log_lines(server) if line.get("msg") == "requirements ready"]
        assert len(ready) == 1 and "inflection" in ready[0]["modules"]
        assert ready[0]["reused"] is (attempt == "second")
        assert ready[0]["folder"].startswith(str(tmp_path / "packages"))


def test_a_misplaced_script_is_named_in_a_warning_and_not_used(tmp_path):
    archive = tarball(tmp_path / "model.tar.gz", versions=MODEL,
                      extra={"inference.py": "def handler(d, c):\n    return b'script', 'text/plain'\n"})
    server = started(tmp_path, extracted(archive, tmp_path / "opt-ml-model"))
    try:
        server.wait_ready()
        reply = server.client.post("/invocations", content=b"1,2,3", headers={"Content-Type": "text/csv"})
        assert reply.status_code == 200 and reply.json() == {"predictions": [[2.0, 3.0, 4.0]]}
    finally:
        server.stop()
    warned = [line for line in log_lines(server) if line.get("msg") == "a script is not where SageMaker scripts belong, so it is not used"]
    assert len(warned) == 1 and warned[0]["found"].endswith("opt-ml-model/inference.py")
    assert warned[0]["expected"].endswith("opt-ml-model/code/inference.py")


def test_without_a_script_nothing_of_the_script_machinery_is_imported():
    probe = ("import sys, ovserve.sagemaker.main; "
             "print(sorted(m for m in sys.modules if m in ('grpc', 'requests', 'ovserve.server.rest', 'ovserve.handler.scripts.host')))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60, check=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


def test_a_stop_keeps_the_loopback_server_up_until_the_scripts_in_flight_are_done(tmp_path):
    script = f'''
        import json
        import pathlib
        import time

        import requests


        def handler(data, context):
            pathlib.Path({str(tmp_path / "started")!r}).touch()
            while not pathlib.Path({str(tmp_path / "gate")!r}).exists():
                time.sleep(0.02)
            response = requests.post(context.rest_uri, data=json.dumps({{"instances": [[1, 2, 3]]}}))
            return response.content, "application/json", response.status_code
    '''
    archive = tarball(tmp_path / "model.tar.gz", versions=MODEL, code={"inference.py": script})
    server = started(tmp_path, extracted(archive, tmp_path / "opt-ml-model"))
    replies: list = []
    try:
        server.wait_ready()
        caller = threading.Thread(target=lambda: replies.append(
            server.client.post("/invocations", content=b"{}", headers={"Content-Type": "application/json"})))
        caller.start()
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline, server.read_log()
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        while not any(line.get("msg", "").startswith("stopping") for line in log_lines(server)):
            assert time.monotonic() < deadline, server.read_log()
            time.sleep(0.02)
        (tmp_path / "gate").touch()  # the script now posts to rest_uri, during the drain
        caller.join(30)
        assert server.process.wait(30) == 0
    finally:
        server.stop()
    assert len(replies) == 1 and replies[0].status_code == 200, replies and replies[0].text
    assert replies[0].json() == {"predictions": [[2.0, 3.0, 4.0]]}
