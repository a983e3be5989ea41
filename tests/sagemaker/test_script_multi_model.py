"""Scripts on multi-model endpoints: each model's own ``code/inference.py`` (imported at its load, its ``code/lib`` on
the path), the universal script for models without one, and loads refused when a model's script cannot serve."""

from __future__ import annotations

import textwrap

import pytest

from tests import models
from tests.sagemaker.script_archives import extracted, log_lines, started, tarball

MME = {"SAGEMAKER_MULTI_MODEL": "true"}

PAIR = '''
    import json

    import own_helpers  # this model's code/lib


    def input_handler(data, context):
        return json.dumps({"instances": own_helpers.rows(data.read())})


    def output_handler(response, context):
        return json.dumps({"script": "own", "model": context.model_name, "answer": response.json()}), "application/json"
'''

HELPERS = '''
    def rows(body):
        return [[float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()]
'''

HANDLER = '''
    import json

    import requests


    def handler(data, context):
        rows = [[float(v) for v in line.split(",")] for line in data.read().decode().splitlines() if line.strip()]
        response = requests.post(context.rest_uri, json={"instances": rows})
        return json.dumps({"script": SCRIPT, "model": context.model_name, "rest_uri": context.rest_uri,
                           "answer": response.json()}), "application/json"
'''


def load(endpoint, root, name: str, code: dict[str, str] | None = None, value: float = 1.0):
    """What SageMaker does for a model on first use: extract its tarball under /opt/ml/models/<name>/model, POST /models."""
    archive = tarball(root / f"{name}.tar.gz", versions={1: models.add_one(shape=(-1, 3), value=value)}, code=code)
    url = str(extracted(archive, root / "models" / name / "model"))
    return endpoint.client.post("/models", json={"model_name": name, "url": url}), url


def invoke(endpoint, name: str, body: bytes = b"1,2,3"):
    return endpoint.client.post(f"/models/{name}/invoke", content=body, headers={"Content-Type": "text/csv"})


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("mme")
    server = started(root, None, {**MME, "OVSERVE_UNIVERSAL_CODE_DIR": str(root / "no-universal-code")})
    try:
        yield server.wait_ready(), root
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def test_each_model_runs_its_own_script_and_a_model_without_one_runs_ovserve(endpoint):
    server, root = endpoint
    own, _ = load(server, root, "own", {"inference.py": PAIR, "lib/own_helpers.py": HELPERS}, value=1.0)
    other, _ = load(server, root, "other", {"inference.py": "SCRIPT = 'other'\n" + textwrap.dedent(HANDLER),
                                            "requirements.txt": "this is not a requirement !!\n"}, value=10.0)
    plain, _ = load(server, root, "plain", None, value=100.0)
    assert (own.status_code, other.status_code, plain.status_code) == (200, 200, 200), (own.text, other.text, plain.text)

    assert invoke(server, "own").json() == {"script": "own", "model": "own", "answer": {"predictions": [[2.0, 3.0, 4.0]]}}
    answer = invoke(server, "other").json()
    assert answer["script"] == "other" and answer["model"] == "other"
    assert answer["rest_uri"].endswith("/v1/models/other:predict") and answer["answer"] == {"predictions": [[11.0, 12.0, 13.0]]}
    assert invoke(server, "plain").json() == {"predictions": [[101.0, 102.0, 103.0]]}

    warned = [line for line in log_lines(server) if "does not install a model's own requirements.txt" in line.get("msg", "")]
    assert len(warned) == 1 and warned[0]["requirements"].endswith("models/other/model/code/requirements.txt")


def test_a_model_whose_script_cannot_serve_is_refused_at_load(endpoint):
    server, root = endpoint
    reply, _ = load(server, root, "broken", {"inference.py": "import json\nraise RuntimeError('no weights file')\n"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error.startswith("model broken cannot be loaded: ") and "broken/model/code/inference.py: importing it raised" in error
    assert "RuntimeError: no weights file" in error
    assert server.client.get("/models/broken").status_code == 404
    assert invoke(server, "broken").status_code == 404
    logged = [line for line in log_lines(server) if line.get("msg") == "model's script cannot serve"]
    assert logged and "raise RuntimeError('no weights file')" in logged[-1]["traceback"]

    empty, _ = load(server, root, "empty", {"inference.py": "VERSION = 1\n"})
    assert empty.status_code == 400 and "defines none of the functions a SageMaker script may" in empty.json()["error"]


def test_unloading_forgets_the_script_and_reloading_imports_it_again(endpoint):
    server, root = endpoint
    first, url = load(server, root, "again", {"inference.py": "SCRIPT = 'again-1'\n" + textwrap.dedent(HANDLER)})
    assert first.status_code == 200 and invoke(server, "again").json()["script"] == "again-1"
    assert server.client.delete("/models/again").status_code == 200
    (root / "models" / "again" / "model" / "code" / "inference.py").write_text("SCRIPT = 'again-2'\n" + textwrap.dedent(HANDLER))
    reloaded = server.client.post("/models", json={"model_name": "again", "url": url})
    assert reloaded.status_code == 200 and invoke(server, "again").json()["script"] == "again-2"


def test_the_universal_script_serves_models_without_their_own(tmp_path):
    universal = tmp_path / "universal-code"
    universal.mkdir()
    (universal / "inference.py").write_text("SCRIPT = 'universal'\n" + textwrap.dedent(HANDLER))
    server = started(tmp_path, None, {**MME, "OVSERVE_UNIVERSAL_CODE_DIR": str(universal)})
    try:
        server.wait_ready()
        assert load(server, tmp_path, "plain", None, value=5.0)[0].status_code == 200
        assert load(server, tmp_path, "own", {"inference.py": PAIR, "lib/own_helpers.py": HELPERS})[0].status_code == 200
        answer = invoke(server, "plain").json()
        assert answer["script"] == "universal" and answer["model"] == "plain"
        assert answer["answer"] == {"predictions": [[6.0, 7.0, 8.0]]}
        assert invoke(server, "own").json()["script"] == "own"  # a model's own script wins over the universal one
    finally:
        server.stop()
