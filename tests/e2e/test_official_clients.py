"""The official clients, unmodified, against one real server: TF Serving's Python API and ovmsclient.

The TF Serving client needs all of TensorFlow, so it runs in its own interpreter
(``tests/clients/tfs_client.py``), once for every call of this module; ovmsclient
runs in this process, over gRPC and over REST. Answers are compared with
in-process OpenVINO on the same model files, or with numpy where the server
reshaped the model ('auto' batch size and shape).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ovmsclient
import pytest
from ovmsclient.tfs_compat.base.errors import InvalidInputError, ModelNotFoundError

from tests import models
from tests.clients import tf_python
from tests.serverproc import REPO, Server

TF_CLIENT = REPO / "tests" / "clients" / "tfs_client.py"
MAPPING = {"inputs": {"a": "left", "b": "right"}, "outputs": {"sum": "total"}}
RNG = np.random.default_rng(20240611)


def f32(*shape: int) -> np.ndarray:
    return RNG.uniform(-10, 10, size=shape).astype(np.float32)


def build_repository(root: Path) -> Path:
    """Every model of this module under ``root``, and the config.json serving them (f32 precision)."""
    models.write_version(root / "two", 1, models.two_in_two_out())
    models.write_version(root / "add", 1, models.add_one())
    models.write_version(root / "image", 1, models.image_scale())
    models.write_version(root / "ints", 1, models.int_sum())
    models.write_version(root / "dyn", 1, models.add_one())
    models.write_version(root / "shp", 1, models.image_scale())
    models.write_version(root / "aliased", 1, models.two_in_two_out(), mapping=MAPPING)
    models.write_version(root / "versions", 1, models.add_one(value=1.0))
    models.write_version(root / "versions", 2, models.add_one(value=2.0))
    (root / "magika" / "1").mkdir(parents=True)
    shutil.copy(models.magika_onnx(), root / "magika" / "1" / "model.onnx")
    extra = {
        "dyn": {"batch_size": "auto"},
        "shp": {"shape": "auto"},
        "versions": {"model_version_policy": {"all": {}}},
    }
    entries = [
        {"config": {"name": name, "base_path": str(root / name), "plugin_config": models.F32, **extra.get(name, {})}}
        for name in ("two", "add", "image", "ints", "dyn", "shp", "aliased", "versions", "magika")
    ]
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    return config


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("official_clients")


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[Server]:
    config = build_repository(repo / "models")
    started = Server(["--config_path", str(config)], log_path=repo / "server.log")
    try:
        yield started.wait_live(timeout=120)
        assert started.process.poll() is None, started.read_log()
    finally:
        started.stop()


# ---- the cases, shared by both clients ----------------------------------------------------------------

A, B = f32(4, 3), f32(4, 3)
X1, X5 = f32(1, 10), f32(5, 10)
IMAGE8, IMAGE12 = f32(1, 3, 8, 8), f32(1, 3, 12, 12)
CHANNEL_SCALE = np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1)
# Sums stay below 2**24: OpenVINO's CPU plugin adds these i64 values through f32 (in process too), so
# larger ones come back rounded; a runtime limit, not the server's.
INTS = np.array([[1, 2, 3, 4], [4_000_000, 4_000_000, 7, -9], [-5, 0, 0, 5]], dtype=np.int64)
MAGIKA_BYTES = RNG.integers(0, 257, size=(3, 2048), dtype=np.int32)


def model_file(repo: Path, model: str, version: int = 1) -> Path:
    folder = repo / "models" / model / str(version)
    return folder / "model.onnx" if model == "magika" else folder / "model.xml"


def aliased_reference(repo: Path) -> dict[str, np.ndarray]:
    original = models.reference(model_file(repo, "aliased"), {"a": A, "b": B})
    return {"total": original["sum"], "product": original["product"]}


@dataclass(frozen=True)
class Predict:
    model: str
    inputs: dict[str, np.ndarray]
    expected: Callable[[Path], dict[str, np.ndarray]]  # repo -> outputs by name
    version: int | None = None
    served_version: int = 1
    rtol: float = 1e-6
    atol: float = 1e-6


PREDICT = {
    "two_inputs_two_outputs": Predict("two", {"a": A, "b": B}, lambda r: models.reference(model_file(r, "two"), {"a": A, "b": B})),
    "one_input_one_output": Predict("add", {"x": X1}, lambda r: models.reference(model_file(r, "add"), {"x": X1})),
    "image": Predict("image", {"image": IMAGE8}, lambda r: models.reference(model_file(r, "image"), {"image": IMAGE8})),
    "int64": Predict("ints", {"values": INTS}, lambda r: models.reference(model_file(r, "ints"), {"values": INTS}), rtol=0, atol=0),
    "version_1": Predict("versions", {"x": X1}, lambda r: models.reference(model_file(r, "versions", 1), {"x": X1}), version=1),
    "version_2": Predict(
        "versions", {"x": X1}, lambda r: models.reference(model_file(r, "versions", 2), {"x": X1}), version=2, served_version=2
    ),
    "default_version_is_highest": Predict(
        "versions", {"x": X1}, lambda r: models.reference(model_file(r, "versions", 2), {"x": X1}), served_version=2
    ),
    "aliases": Predict("aliased", {"left": A, "right": B}, aliased_reference),
    "auto_batch_1": Predict("dyn", {"x": X1}, lambda r: {"y": X1 + 1}),
    "auto_batch_5": Predict("dyn", {"x": X5}, lambda r: {"y": X5 + 1}),
    "auto_shape_8x8": Predict("shp", {"image": IMAGE8}, lambda r: {"scaled": IMAGE8 * CHANNEL_SCALE}),
    "auto_shape_12x12": Predict("shp", {"image": IMAGE12}, lambda r: {"scaled": IMAGE12 * CHANNEL_SCALE}),
    "magika": Predict(
        "magika", {"bytes": MAGIKA_BYTES}, lambda r: models.reference(model_file(r, "magika"), {"bytes": MAGIKA_BYTES}), rtol=1e-5
    ),
}

FLOAT_ROWS3 = ("DT_FLOAT", [-1, 3])


@dataclass(frozen=True)
class Metadata:
    model: str
    inputs: dict[str, tuple[str, list[int]]]  # name -> (dtype, dims)
    outputs: dict[str, tuple[str, list[int]]]
    version: int | None = None
    served_version: int = 1


METADATA = {
    "two": Metadata("two", {"a": FLOAT_ROWS3, "b": FLOAT_ROWS3}, {"sum": FLOAT_ROWS3, "product": FLOAT_ROWS3}),
    "add": Metadata("add", {"x": ("DT_FLOAT", [1, 10])}, {"y": ("DT_FLOAT", [1, 10])}),
    "image": Metadata("image", {"image": ("DT_FLOAT", [1, 3, 8, 8])}, {"scaled": ("DT_FLOAT", [1, 3, 8, 8])}),
    "ints": Metadata("ints", {"values": ("DT_INT64", [-1, 4])}, {"total": ("DT_INT64", [-1])}),
    "auto_batch": Metadata("dyn", {"x": ("DT_FLOAT", [-1, 10])}, {"y": ("DT_FLOAT", [-1, 10])}),
    # The output keeps its 3 channels: OpenVINO infers them from the constant scale.
    "auto_shape": Metadata("shp", {"image": ("DT_FLOAT", [-1, -1, -1, -1])}, {"scaled": ("DT_FLOAT", [-1, 3, -1, -1])}),
    "aliases": Metadata("aliased", {"left": FLOAT_ROWS3, "right": FLOAT_ROWS3}, {"total": FLOAT_ROWS3, "product": FLOAT_ROWS3}),
    "version_1": Metadata("versions", {"x": ("DT_FLOAT", [1, 10])}, {"y": ("DT_FLOAT", [1, 10])}, version=1),
    "default_version": Metadata("versions", {"x": ("DT_FLOAT", [1, 10])}, {"y": ("DT_FLOAT", [1, 10])}, served_version=2),
    "magika": Metadata("magika", {"bytes": ("DT_INT32", [-1, 2048])}, {"target_label": ("DT_FLOAT", [-1, 214])}),
}


@dataclass(frozen=True)
class Status:
    model: str
    states: dict[int, str]  # version -> state
    version: int | None = None


STATUS = {
    "all_versions": Status("versions", {1: "AVAILABLE", 2: "AVAILABLE"}),
    "one_version": Status("versions", {1: "AVAILABLE"}, version=1),
    "two": Status("two", {1: "AVAILABLE"}),
    "magika": Status("magika", {1: "AVAILABLE"}),
}


@dataclass(frozen=True)
class Refused:
    call: str  # predict, metadata or status
    model: str
    code: str  # the gRPC status the TF client sees
    error: type[Exception]  # what ovmsclient raises
    version: int | None = None
    inputs: dict[str, np.ndarray] = field(default_factory=dict)


REFUSED = {
    "predict_unknown_model": Refused("predict", "no_such_model", "NOT_FOUND", ModelNotFoundError, inputs={"x": X1}),
    "metadata_unknown_model": Refused("metadata", "no_such_model", "NOT_FOUND", ModelNotFoundError),
    "status_unknown_model": Refused("status", "no_such_model", "NOT_FOUND", ModelNotFoundError),
    "predict_unknown_version": Refused("predict", "versions", "NOT_FOUND", ModelNotFoundError, version=3, inputs={"x": X1}),
    "predict_wrong_shape": Refused("predict", "add", "INVALID_ARGUMENT", InvalidInputError, inputs={"x": f32(1, 5)}),
}


# ---- TF Serving's official client: one subprocess for every call ------------------------------------


def _wire(inputs: dict[str, np.ndarray]) -> dict:
    return {name: {"value": array.tolist(), "dtype": array.dtype.name} for name, array in inputs.items()}


def tf_calls() -> dict[str, dict]:
    calls = {}
    for key, case in PREDICT.items():
        calls[f"predict:{key}"] = {"call": "predict", "model": case.model, "version": case.version, "inputs": _wire(case.inputs)}
    calls["predict:output_filter"] = {
        "call": "predict", "model": "two", "inputs": _wire({"a": A, "b": B}), "output_filter": ["product"]
    }
    for key, case in METADATA.items():
        calls[f"metadata:{key}"] = {"call": "metadata", "model": case.model, "version": case.version}
    for key, case in STATUS.items():
        calls[f"status:{key}"] = {"call": "status", "model": case.model, "version": case.version}
    for key, case in REFUSED.items():
        calls[f"refused:{key}"] = {"call": case.call, "model": case.model, "version": case.version, "inputs": _wire(case.inputs)}
    return calls


@pytest.fixture(scope="module")
def tf_answers(server: Server) -> dict[str, dict]:
    calls = tf_calls()
    job = json.dumps({"target": server.grpc_target, "calls": list(calls.values())})
    run = subprocess.run(
        [tf_python(), str(TF_CLIENT)], input=job, capture_output=True, text=True, timeout=240,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads(run.stdout)["results"]
    assert len(results) == len(calls)
    return dict(zip(calls, results, strict=True))


def answered(tf_answers: dict[str, dict], key: str) -> dict:
    result = tf_answers[key]
    assert "error" not in result, result["error"]
    return result


@pytest.mark.parametrize("key", PREDICT)
def test_tf_client_predict_matches_openvino(tf_answers, repo, key):
    case = PREDICT[key]
    result = answered(tf_answers, f"predict:{key}")
    assert result["model_spec"]["name"] == case.model
    assert result["model_spec"]["version"] == case.served_version
    expected = case.expected(repo)
    assert set(result["outputs"]) == set(expected)
    for name, want in expected.items():
        got = result["outputs"][name]
        assert (got["dtype"], got["shape"]) == (want.dtype.name, list(want.shape)), name
        np.testing.assert_allclose(np.array(got["value"], dtype=want.dtype), want, rtol=case.rtol, atol=case.atol)


def test_tf_client_versions_give_different_answers(tf_answers):
    one = np.array(answered(tf_answers, "predict:version_1")["outputs"]["y"]["value"])
    two = np.array(answered(tf_answers, "predict:version_2")["outputs"]["y"]["value"])
    np.testing.assert_allclose(two - one, np.ones_like(one), rtol=0, atol=1e-5)


def test_tf_client_magika_picks_the_reference_labels(tf_answers, repo):
    got = np.array(answered(tf_answers, "predict:magika")["outputs"]["target_label"]["value"])
    expected = models.reference(model_file(repo, "magika"), {"bytes": MAGIKA_BYTES})["target_label"]
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_tf_client_output_filter_returns_only_the_asked_output(tf_answers):
    outputs = answered(tf_answers, "predict:output_filter")["outputs"]
    assert set(outputs) == {"product"}
    np.testing.assert_allclose(np.array(outputs["product"]["value"], dtype=np.float32), A * B, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("key", METADATA)
def test_tf_client_metadata(tf_answers, key):
    case = METADATA[key]
    result = answered(tf_answers, f"metadata:{key}")
    assert result["model_spec"]["name"] == case.model
    assert result["model_spec"]["version"] == case.served_version
    assert set(result["signatures"]) == {"serving_default"}
    signature = result["signatures"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    for side, expected in (("inputs", case.inputs), ("outputs", case.outputs)):
        got = {name: (info["dtype"], info["dims"]) for name, info in signature[side].items()}
        assert got == expected, side


@pytest.mark.parametrize("key", STATUS)
def test_tf_client_status(tf_answers, key):
    case = STATUS[key]
    rows = answered(tf_answers, f"status:{key}")["versions"]
    assert {row["version"]: row["state"] for row in rows} == case.states
    assert [row["error_code"] for row in rows] == [0] * len(rows)


@pytest.mark.parametrize("key", REFUSED)
def test_tf_client_sees_grpc_error_codes(tf_answers, key):
    result = tf_answers[f"refused:{key}"]
    assert "error" in result, result
    assert result["error"]["code"] == REFUSED[key].code
    assert result["error"]["details"]


# ---- ovmsclient in this process, over gRPC and REST --------------------------------------------------


@pytest.fixture(scope="module")
def ovms(server: Server) -> dict[str, object]:
    return {
        "grpc": ovmsclient.make_grpc_client(server.grpc_target),
        "http": ovmsclient.make_http_client(f"127.0.0.1:{server.port}"),
    }


CLIENTS = ("grpc", "http")


@pytest.mark.parametrize("key", PREDICT)
@pytest.mark.parametrize("kind", CLIENTS)
def test_ovmsclient_predict_matches_openvino(ovms, repo, kind, key):
    case = PREDICT[key]
    answer = ovms[kind].predict(case.inputs, case.model, model_version=case.version or 0)
    expected = case.expected(repo)
    if not isinstance(answer, dict):  # ovmsclient unwraps a single output
        assert len(expected) == 1
        answer = {next(iter(expected)): answer}
    assert set(answer) == set(expected)
    for name, want in expected.items():
        got = np.asarray(answer[name])
        assert got.shape == want.shape, name
        if kind == "grpc":  # REST answers are JSON numbers; their dtype is numpy's guess
            assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("kind", CLIENTS)
def test_ovmsclient_versions_give_different_answers(ovms, kind):
    one = ovms[kind].predict({"x": X1}, "versions", model_version=1)
    two = ovms[kind].predict({"x": X1}, "versions", model_version=2)
    default = ovms[kind].predict({"x": X1}, "versions")
    np.testing.assert_allclose(two - one, np.ones_like(one), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(default, two)


@pytest.mark.parametrize("key", METADATA)
@pytest.mark.parametrize("kind", CLIENTS)
def test_ovmsclient_metadata(ovms, kind, key):
    case = METADATA[key]
    metadata = ovms[kind].get_model_metadata(case.model, model_version=case.version or 0)
    assert metadata["model_version"] == case.served_version
    for side, expected in (("inputs", case.inputs), ("outputs", case.outputs)):
        got = {name: (info["dtype"], info["shape"]) for name, info in metadata[side].items()}
        assert got == expected, side


@pytest.mark.parametrize("key", STATUS)
@pytest.mark.parametrize("kind", CLIENTS)
def test_ovmsclient_status(ovms, kind, key):
    case = STATUS[key]
    status = ovms[kind].get_model_status(case.model, model_version=case.version or 0)
    assert {version: row["state"] for version, row in status.items()} == case.states
    assert [row["error_code"] for row in status.values()] == [0] * len(status)


@pytest.mark.parametrize("key", REFUSED)
@pytest.mark.parametrize("kind", CLIENTS)
def test_ovmsclient_raises_its_own_errors(ovms, kind, key):
    case = REFUSED[key]
    client = ovms[kind]
    version = case.version or 0
    calls = {
        "predict": lambda: client.predict(case.inputs, case.model, model_version=version),
        "metadata": lambda: client.get_model_metadata(case.model, model_version=version),
        "status": lambda: client.get_model_status(case.model, model_version=version),
    }
    with pytest.raises(case.error):
        calls[case.call]()


# ---- the server side never needs TensorFlow ----------------------------------------------------------


def test_server_modules_never_import_tensorflow():
    """TensorFlow is made importable (the TF client's site-packages, last on sys.path), yet nothing loads it."""
    tf_site = subprocess.run(
        [tf_python(), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    code = (
        "import importlib.util, json, sys\n"
        f"sys.path.append({tf_site!r})\n"
        "import ovserve.server.main, ovserve.server.grpc_api, ovserve.handler.codecs.tfs_proto\n"
        "print(json.dumps({'importable': importlib.util.find_spec('tensorflow') is not None,\n"
        "                  'loaded': sorted(m for m in sys.modules if m.startswith('tensorflow'))}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["importable"] is True  # otherwise the check below would prove nothing
    assert report["loaded"] == []
