"""The script core's rules on their own: how a script's style and context parameter are read, what a returned value
or a raised exception answers, the context's fields, and the response object ``output_handler`` gets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import requests

from ovserve.handler.errors import InvalidInput, NotFound
from ovserve.handler.scripts import answers, discovery, loading
from ovserve.handler.scripts.context import request_context, tfs_attributes
from ovserve.handler.scripts.response import ScriptResponse
from ovserve.handler.scripts.settings import ScriptSettings
from ovserve.handler.scripts.settings import load as load_settings
from tests.serverproc import REPO


def script(tmp_path: Path, text: str, name: str = "inference.py") -> discovery.CodeFolder:
    folder = tmp_path / "model" / "code"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    found = discovery.for_model(tmp_path / "model", ScriptSettings(program=name))
    assert found is not None
    return found


def test_the_script_core_imports_neither_sanic_nor_grpc_nor_requests():
    code = ("import sys, ovserve.handler.scripts.host, ovserve.handler.scripts.requirements; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sanic', 'grpc', 'requests')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_handler_wins_over_the_pair_and_the_toolkit(tmp_path):
    loaded = loading.load(script(tmp_path, """
        def handler(data, context): ...
        def input_handler(data, context): ...
        def output_handler(response, context): ...
        def input_fn(data, content_type): ...
    """), "script_precedence")
    assert loaded.style == loading.HANDLER and list(loaded.hooks) == ["handler"]


def test_a_trailing_context_is_detected_by_counting_parameters(tmp_path):
    loaded = loading.load(script(tmp_path, """
        def model_fn(model_dir, context): ...
        def input_fn(data, content_type): ...
        def predict_fn(data, model, context=None): ...
        def output_fn(prediction, accept, verbose=False, extra=1): ...
    """), "script_context")
    assert loaded.style == loading.TOOLKIT
    assert {name: hook.takes_context for name, hook in loaded.hooks.items()} == {
        "model_fn": True, "input_fn": False, "predict_fn": True, "output_fn": False}


def test_a_script_that_raises_systemexit_on_import_is_refused_not_obeyed(tmp_path):
    with pytest.raises(loading.ScriptError, match="importing it raised SystemExit"):
        loading.load(script(tmp_path, "import sys\nsys.exit(0)\n"), "script_exit")
    assert "script_exit" not in sys.modules


def test_custom_attributes_are_read_with_awss_pattern():
    assert tfs_attributes("tfs-model-name=a, tfs-model-version=2,other=x,tfs-method=predict") == {
        "tfs-model-name": "a", "tfs-model-version": "2", "tfs-method": "predict"}
    assert tfs_attributes(None) == {} and tfs_attributes("no pairs here") == {}


def test_a_multi_model_name_is_fixed_and_quoted_in_rest_uri():
    context = request_context(model="my model:v1", headers={"X-Amzn-SageMaker-Custom-Attributes": "tfs-model-name=other"},
                              content_length=3, rest_base="http://127.0.0.1:8501", grpc_port=9000, model_fixed=True)
    assert context.model_name == "my model:v1" and context.rest_uri == "http://127.0.0.1:8501/v1/models/my%20model%3Av1:predict"
    assert context.grpc_port == "9000" and context.request_content_type == "application/json"
    assert context.get_request_header(0, "x-amzn-sagemaker-custom-attributes") == "tfs-model-name=other"


def test_returns_become_answers():
    assert answers.from_return(("a", "text/plain"), "s.py", "handler", "application/json") == answers.ScriptAnswer(b"a", "text/plain")
    assert answers.from_return((b"x", None, 404), "s.py", "handler", "text/csv") == answers.ScriptAnswer(b"x", "text/csv", 404)
    assert answers.from_return({"y": np.arange(2)}, "s.py", "output_fn", "application/json", pair=False).body == b'{"y":[0,1]}'
    with pytest.raises(answers.ScriptFailed, match=r"s.py: handler returned a str; expected \(body, content_type\)"):
        answers.from_return("just a body", "s.py", "handler", "application/json")
    with pytest.raises(answers.ScriptFailed, match="returned status 99; expected an HTTP status from 200 to 599"):
        answers.from_return(("", "text/plain", 99), "s.py", "handler", "application/json")
    with pytest.raises(answers.ScriptFailed, match="returned a object body; expected bytes or str"):
        answers.from_return((object(), "text/plain"), "s.py", "handler", "application/json")


def test_an_ovserve_error_keeps_its_kind_even_when_wrapped():
    with pytest.raises(InvalidInput, match="bad shape"):
        answers.from_exception(InvalidInput("bad shape"), "s.py", "predict_fn")
    try:
        try:
            raise NotFound("no model m")
        except NotFound as inner:
            raise ValueError("could not predict") from inner
    except ValueError as wrapped:
        with pytest.raises(NotFound, match=r"no model m \(s.py: predict_fn raised ValueError: could not predict\)"):
            answers.from_exception(wrapped, "s.py", "predict_fn")


def test_raise_for_status_raises_requests_httperror_and_its_status_is_the_answer():
    response = ScriptResponse(400, b'{"error": "Obtained shape [2], required shape [3]"}', "http://127.0.0.1:1/v1/models/m:predict")
    assert response.headers["CONTENT-TYPE"] == "application/json" and not response.ok and response.reason == "Bad Request"
    with pytest.raises(requests.HTTPError) as raised:
        response.raise_for_status()
    assert raised.value.response is response
    answer = answers.from_exception(raised.value, "s.py", "handler")
    assert answer.status == 400 and b"the TF Serving API answered 400: Obtained shape [2], required shape [3]" in answer.body


def test_any_other_exception_is_a_500_naming_script_function_and_exception():
    with pytest.raises(answers.ScriptFailed) as raised:
        answers.from_exception(KeyError("price"), "/opt/ml/model/code/inference.py", "output_handler")
    assert raised.value.message == "/opt/ml/model/code/inference.py: output_handler raised KeyError: 'price'"
    assert raised.value.kind.http_status == 500


def test_settings_follow_awss_ports_and_refuse_bad_values(tmp_path):
    assert (load_settings({}).rest_port, load_settings({}).grpc_port) == (8501, 9000)
    ranged = load_settings({"SAGEMAKER_SAFE_PORT_RANGE": "20000-20999"})
    assert (ranged.grpc_port, ranged.rest_port) == (20000, 20001)
    assert load_settings({"SAGEMAKER_PROGRAM": "serve"}).program == "serve.py"
    with pytest.raises(loading.ConfigError, match="SAGEMAKER_SAFE_PORT_RANGE: expected two ports as low-high"):
        load_settings({"SAGEMAKER_SAFE_PORT_RANGE": "9000"})
    with pytest.raises(loading.ConfigError, match="SAGEMAKER_SUBMIT_DIRECTORY: 's3://b/sourcedir.tar.gz' is not a local folder"):
        load_settings({"SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/sourcedir.tar.gz"})
    with pytest.raises(loading.ConfigError, match="OVSERVE_SCRIPT_THREADS: expected an integer from 1 to 256"):
        load_settings({"OVSERVE_SCRIPT_THREADS": "0"})
