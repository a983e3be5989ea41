"""Real models through the real server: the bundled example and magika's pretrained ONNX classifier."""

from __future__ import annotations

import shutil

import numpy as np

from tests import models
from tests.serverproc import REPO


def test_bundled_example_answers_the_readme_request(start_server):
    server = start_server("--model_name", "temperature", "--model_path", str(REPO / "examples/models/temperature"), f32=False)
    response = server.client.post(
        "/v1/models/temperature:predict", content=b'{"instances": [0, 100, -40, 37]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},  # what curl -d sends
    )
    assert response.status_code == 200
    assert response.json() == {
        "predictions": [
            {"fahrenheit": 32.0, "kelvin": 273.15},
            {"fahrenheit": 212.0, "kelvin": 373.15},
            {"fahrenheit": -40.0, "kelvin": 233.15},
            {"fahrenheit": 98.6, "kelvin": 310.15},
        ]
    }
    assert (REPO / "examples/models/temperature/1/model.bin").stat().st_size < 1_000_000


def test_example_model_script_rebuilds_the_same_model(tmp_path):
    from examples import make_example_model

    make_example_model.main(tmp_path)
    rebuilt = (tmp_path / "1" / "model.bin").read_bytes()
    assert rebuilt == (REPO / "examples/models/temperature/1/model.bin").read_bytes()


def test_magika_onnx_over_rest_matches_in_process_openvino(start_server, tmp_path):
    folder = tmp_path / "magika" / "1"
    folder.mkdir(parents=True)
    shutil.copy(models.magika_onnx(), folder / "model.onnx")
    server = start_server("--model_name", "magika", "--model_path", str(folder.parent))
    rng = np.random.default_rng(7)
    data = rng.integers(0, 257, size=(3, 2048), dtype=np.int32)
    response = server.client.post("/v1/models/magika:predict", json={"inputs": {"bytes": data.tolist()}})
    assert response.status_code == 200, response.text
    got = np.array(response.json()["outputs"], dtype=np.float32)
    expected = models.reference(models.magika_onnx(), {"bytes": data})["target_label"]
    assert got.shape == (3, 214)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    metadata = server.client.get("/v1/models/magika/metadata").json()
    inputs = metadata["metadata"]["signature_def"]["signatureDef"]["serving_default"]["inputs"]
    assert inputs["bytes"]["dtype"] == "DT_INT32"
    assert [d["size"] for d in inputs["bytes"]["tensorShape"]["dim"]] == ["-1", "2048"]
