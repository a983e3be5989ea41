"""template.yaml and Dockerfile.lambda: lint clean, the shape SAM needs, and the image's steps replayed without Docker."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dockerfile_steps import Replay, instructions, labels
from tests.lambda_events import http_v2
from tests.lambdaproc import Emulator
from tests.serverproc import REPO

TEMPLATE = REPO / "template.yaml"
DOCKERFILE = REPO / "Dockerfile.lambda"


def test_template_passes_cfn_lint():
    run = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr


def test_template_deploys_the_image_with_an_http_api_a_function_url_and_s3_batches():
    from cfnlint.decode import decode

    template, problems = decode(str(TEMPLATE))
    assert not problems
    function = template["Resources"]["InferenceFunction"]
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert function["Metadata"]["Dockerfile"] == "Dockerfile.lambda" and function["Metadata"]["DockerContext"] == "."
    assert (REPO / function["Metadata"]["Dockerfile"]).is_file()
    assert properties["FunctionUrlConfig"]["InvokeMode"] == "BUFFERED"
    kinds = sorted(event["Type"] for event in properties["Events"].values())
    assert kinds == ["HttpApi", "HttpApi", "S3"]
    assert {"MemorySize", "Timeout", "Environment"} <= set(properties)
    parameters = template["Parameters"]
    assert not parameters["OutputPrefix"]["Default"].startswith(parameters["InputPrefix"]["Default"])


def test_dockerfile_lambda_passes_hadolint():
    run = subprocess.run([str(Path(sys.executable).parent / "hadolint"), "--no-color", str(DOCKERFILE)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "", run.stdout + run.stderr


def test_dockerfile_lambda_entrypoint_is_awslambdaric_with_ovserves_handler():
    steps = {step.keyword: step.argument for step in instructions(DOCKERFILE)}
    entrypoint, cmd = json.loads(steps["ENTRYPOINT"]), json.loads(steps["CMD"])
    assert entrypoint[0].startswith("/") and entrypoint[1:] == ["-m", "awslambdaric"]  # Lambda needs an absolute path
    module, _, function = cmd[0].rpartition(".")
    assert module == "ovserve.aws_lambda.handler"
    source = (REPO / "lambda" / "handler.py").read_text()
    assert function in {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    assert labels(DOCKERFILE)["com.amazonaws.lambda.feature.snapstart"] == "Allow"


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Replay:
    replay = Replay(tmp_path_factory.mktemp("lambda-image"), REPO)
    replay.run_all(DOCKERFILE)
    return replay


def test_the_replayed_image_bakes_its_cache_and_answers_behind_the_emulator(image, tmp_path):
    cache = Path(image.env["OVSERVE_CACHE_DIR"])
    assert any(cache.iterdir()) and all(oct(p.stat().st_mode)[-3:] == "644" for p in cache.iterdir())
    assert not (image.root / "opt" / "ovserve" / "src").exists()
    installed = subprocess.run([str(image.venv / "bin" / "pip"), "list", "--format=json"], capture_output=True, text=True,
                               env=image.env, check=True)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert {"awslambdaric", "openvino", "boto3"} <= names and not names & {"sanic", "grpcio", "pytest", "uvloop"}
    function = Emulator(image.env, tmp_path / "function.log", command=image.command(), f32=False)
    try:
        event = http_v2("POST", "/v1/models/model:predict", body=json.dumps({"instances": [0, 100]}))
        _, answer = function.invoke(event)
        assert answer["statusCode"] == 200, answer
        predictions = json.loads(answer["body"])["predictions"]
        assert predictions[1]["fahrenheit"] == pytest.approx(212.0, rel=1e-2)
        assert '"from_cache": true' in function.read_log()
    finally:
        function.stop()
