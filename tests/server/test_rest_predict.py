"""Successful TF Serving REST behaviour on one real server: predict forms, status, metadata, probes.

Served from a config.json (f32 precision): ``add`` (x + 1, fixed [1, 10]),
``add_dyn`` (x + 1, [-1, 10]), ``two`` (two_in_two_out, [-1, 3] -> sum,
product) and ``image`` (image_scale [1, 3, 8, 8]). Answers are compared with
in-process OpenVINO on the same model files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests import models
from tests.serverproc import Server, live_until_done

RNG = np.random.default_rng(20240607)


@dataclass
class Served:
    server: Server
    paths: dict[str, Path]  # model name -> its model.xml

    def reference(self, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return models.reference(self.paths[model], inputs)

    def predict(self, model: str, body: dict, path: str | None = None) -> dict:
        response = self.server.client.post(path or f"/v1/models/{model}:predict", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("rest_predict")
    builders = {
        "add": models.add_one(),
        "add_dyn": models.add_one(shape=(-1, 10)),
        "two": models.two_in_two_out(),
        "image": models.image_scale(),
    }
    entries, paths = [], {}
    for name, model in builders.items():
        paths[name] = models.write_version(root / name, 1, model) / "model.xml"
        entries.append({"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    for live in live_until_done(Server(["--config_path", str(config)], log_path=root / "server.log")):
        yield Served(live, paths)


def f32(*shape: int) -> np.ndarray:
    return RNG.uniform(-10, 10, size=shape).astype(np.float32)


def close(actual: object, expected: np.ndarray) -> None:
    array = np.asarray(actual, dtype=np.float32)
    assert array.shape == expected.shape, (array.shape, expected.shape)
    np.testing.assert_allclose(array, expected, rtol=1e-6, atol=1e-6)


# ---- single input, single output ------------------------------------------------------------------


def test_column_named_form_returns_outputs_array(served: Served) -> None:
    x = f32(1, 10)
    body = served.predict("add", {"inputs": {"x": x.tolist()}})
    assert set(body) == {"outputs"}
    close(body["outputs"], served.reference("add", {"x": x})["y"])


def test_column_simplified_form_returns_outputs_array(served: Served) -> None:
    x = f32(1, 10)
    body = served.predict("add", {"inputs": x.tolist()})
    assert set(body) == {"outputs"}
    close(body["outputs"], x + 1)


def test_row_named_form_returns_predictions(served: Served) -> None:
    x = f32(1, 10)
    body = served.predict("add", {"instances": [{"x": x[0].tolist()}]})
    assert set(body) == {"predictions"}
    close(body["predictions"], served.reference("add", {"x": x})["y"])


def test_row_simplified_form_returns_predictions(served: Served) -> None:
    x = f32(1, 10)
    body = served.predict("add", {"instances": x.tolist()})
    assert set(body) == {"predictions"}
    close(body["predictions"], x + 1)


@pytest.mark.parametrize("rows", [1, 3, 7])
def test_row_form_batches_instances_on_a_dynamic_model(served: Served, rows: int) -> None:
    x = f32(rows, 10)
    body = served.predict("add_dyn", {"instances": x.tolist()})
    assert len(body["predictions"]) == rows
    close(body["predictions"], served.reference("add_dyn", {"x": x})["y"])


def test_column_form_batches_on_a_dynamic_model(served: Served) -> None:
    x = f32(5, 10)
    body = served.predict("add_dyn", {"inputs": {"x": x.tolist()}})
    close(body["outputs"], served.reference("add_dyn", {"x": x})["y"])


def test_integers_in_json_feed_a_float_input(served: Served) -> None:
    body = served.predict("add", {"inputs": [list(range(10))]})
    assert body == {"outputs": [[float(i + 1) for i in range(10)]]}


def test_image_model_keeps_the_channel_layout(served: Served) -> None:
    image = f32(1, 3, 8, 8)
    expected = served.reference("image", {"image": image})["scaled"]
    column = served.predict("image", {"inputs": {"image": image.tolist()}})
    close(column["outputs"], expected)
    rows = served.predict("image", {"instances": [image[0].tolist()]})
    close(rows["predictions"], expected)
    # channel c is scaled by c + 1: a transposed layout would not match this
    np.testing.assert_allclose(np.asarray(column["outputs"])[0, 2], image[0, 2] * 3, rtol=1e-6)


# ---- several inputs and outputs --------------------------------------------------------------------


def test_row_form_with_two_outputs_gives_a_list_of_dicts(served: Served) -> None:
    a, b = f32(3, 3), f32(3, 3)
    body = served.predict("two", {"instances": [{"a": a[i].tolist(), "b": b[i].tolist()} for i in range(3)]})
    assert set(body) == {"predictions"}
    predictions = body["predictions"]
    assert isinstance(predictions, list) and len(predictions) == 3
    expected = served.reference("two", {"a": a, "b": b})
    for i, row in enumerate(predictions):
        assert set(row) == {"sum", "product"}
        close(row["sum"], expected["sum"][i])
        close(row["product"], expected["product"][i])


def test_column_form_with_two_outputs_gives_a_dict(served: Served) -> None:
    a, b = f32(2, 3), f32(2, 3)
    body = served.predict("two", {"inputs": {"a": a.tolist(), "b": b.tolist()}})
    assert set(body) == {"outputs"}
    outputs = body["outputs"]
    assert isinstance(outputs, dict) and set(outputs) == {"sum", "product"}
    expected = served.reference("two", {"a": a, "b": b})
    close(outputs["sum"], expected["sum"])
    close(outputs["product"], expected["product"])
    close(outputs["sum"], a + b)


def test_input_order_in_the_request_does_not_matter(served: Served) -> None:
    a, b = f32(1, 3), f32(1, 3)
    body = served.predict("two", {"inputs": {"b": b.tolist(), "a": a.tolist()}})
    close(body["outputs"]["sum"], a + b)
    close(body["outputs"]["product"], a * b)
    rows = served.predict("two", {"instances": [{"b": b[0].tolist(), "a": a[0].tolist()}]})
    close(rows["predictions"][0]["product"], (a * b)[0])


# ---- addressing and request options ----------------------------------------------------------------


def test_explicit_version_path(served: Served) -> None:
    x = f32(1, 10)
    body = served.predict("add", {"inputs": x.tolist()}, path="/v1/models/add/versions/1:predict")
    close(body["outputs"], x + 1)


@pytest.mark.parametrize("name", ["serving_default", ""])  # any other name is a 400 (test_rest_errors.py)
def test_signature_name_is_accepted_and_ignored(served: Served, name: str) -> None:
    x = f32(1, 10)
    column = served.predict("add", {"signature_name": name, "inputs": x.tolist()})
    close(column["outputs"], x + 1)
    rows = served.predict("add", {"signature_name": name, "instances": x.tolist()})
    close(rows["predictions"], x + 1)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",  # what curl -d sends
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        None,
    ],
)
def test_json_body_accepted_under_curl_style_content_types(served: Served, content_type: str | None) -> None:
    x = f32(1, 10)
    headers = {"content-type": content_type} if content_type else {}
    response = served.server.client.post("/v1/models/add:predict", content=json.dumps({"inputs": x.tolist()}), headers=headers)
    assert response.status_code == 200, response.text
    close(response.json()["outputs"], x + 1)


def test_response_mirrors_the_request_form_on_the_same_model(served: Served) -> None:
    x = f32(2, 10)
    assert set(served.predict("add_dyn", {"instances": x.tolist()})) == {"predictions"}
    assert set(served.predict("add_dyn", {"inputs": x.tolist()})) == {"outputs"}
    assert set(served.predict("add_dyn", {"instances": [{"x": row} for row in x.tolist()]})) == {"predictions"}
    assert set(served.predict("add_dyn", {"inputs": {"x": x.tolist()}})) == {"outputs"}


# ---- status, metadata, config, probes -------------------------------------------------------------

AVAILABLE = [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]


@pytest.mark.parametrize("path", ["/v1/models/{m}", "/v1/models/{m}/versions/1"])
@pytest.mark.parametrize("model", ["add", "two", "image"])
def test_status(served: Served, path: str, model: str) -> None:
    response = served.server.client.get(path.format(m=model))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"model_version_status": AVAILABLE}


def _signature(served: Served, path: str) -> tuple[dict, dict]:
    response = served.server.client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    signature_def = body["metadata"]["signature_def"]
    assert signature_def["@type"] == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    serving = signature_def["signatureDef"]["serving_default"]
    assert serving["methodName"] == "tensorflow/serving/predict"
    return body["modelSpec"], serving


def _dims(info: dict) -> list[str]:
    return [d["size"] for d in info["tensorShape"]["dim"]]


@pytest.mark.parametrize("path", ["/v1/models/add/metadata", "/v1/models/add/versions/1/metadata"])
def test_metadata_of_a_fixed_shape_model(served: Served, path: str) -> None:
    spec, serving = _signature(served, path)
    assert spec["name"] == "add"
    assert spec["version"] == "1"
    assert set(serving["inputs"]) == {"x"} and set(serving["outputs"]) == {"y"}
    x, y = serving["inputs"]["x"], serving["outputs"]["y"]
    assert x["dtype"] == "DT_FLOAT" and y["dtype"] == "DT_FLOAT"
    assert x["name"] == "x" and y["name"] == "y"
    assert _dims(x) == ["1", "10"] and _dims(y) == ["1", "10"]
    assert x["tensorShape"]["unknownRank"] is False


def test_metadata_marks_dynamic_dimensions_with_minus_one(served: Served) -> None:
    spec, serving = _signature(served, "/v1/models/two/metadata")
    assert spec == {"name": "two", "signatureName": "", "version": "1"}
    assert set(serving["inputs"]) == {"a", "b"}
    assert set(serving["outputs"]) == {"sum", "product"}
    for info in [*serving["inputs"].values(), *serving["outputs"].values()]:
        assert info["dtype"] == "DT_FLOAT"
        assert _dims(info) == ["-1", "3"]
        assert all(isinstance(size, str) for size in _dims(info))


def test_metadata_of_the_image_model(served: Served) -> None:
    _, serving = _signature(served, "/v1/models/image/metadata")
    assert _dims(serving["inputs"]["image"]) == ["1", "3", "8", "8"]
    assert _dims(serving["outputs"]["scaled"]) == ["1", "3", "8", "8"]


def test_config_lists_every_model(served: Served) -> None:
    response = served.server.client.get("/v1/config")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"add", "add_dyn", "two", "image"}
    for status in body.values():
        assert status == {"model_version_status": AVAILABLE}


@pytest.mark.parametrize("probe", ["/v2/health/live", "/v2/health/ready"])
def test_health_probes(served: Served, probe: str) -> None:
    assert served.server.client.get(probe).status_code == 200


def test_many_sequential_requests_stay_correct(served: Served) -> None:
    for rows in (1, 4, 2, 8, 1):
        x = f32(rows, 10)
        body = served.predict("add_dyn", {"inputs": {"x": x.tolist()}})
        close(body["outputs"], x + 1)
    assert served.server.process.poll() is None


def test_version_zero_means_the_default_version(served):
    """ovmsclient's HTTP client asks for /versions/0 when no version is given, as OVMS allows."""
    response = served.server.client.get("/v1/models/two/versions/0")
    assert response.status_code == 200
    assert response.json()["model_version_status"][0]["version"] == "1"
