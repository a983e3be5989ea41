"""``application/x-protobuf`` on a real single-model ``serve`` process: checked like gRPC before anything expands.

The endpoint serves ``add`` (f32 [1, 10]) as the single model ``model``.
A ``PredictRequest`` whose one value declares a gigabyte-sized shape is
refused against the signature before it is filled (peak RSS, VmHWM, shows
it); a shape with a zero and huge other dimensions is a 400 naming the
dimension; and a request naming another model is a 400, not an answer from
this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import models
from tests.sagemakerproc import F32_ENV, SageMakerServer

GROWTH_BOUND_MB = 300


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[SageMakerServer]:
    models.write_version(tmp_path / "model", 1, models.add_one())
    server = SageMakerServer({**F32_ENV, "OVSERVE_MODEL_PATH": str(tmp_path / "model")}, tmp_path / "serve.log")
    try:
        yield server.wait_ready()
        assert server.process.poll() is None, server.read_log()
    finally:
        server.stop()


def body(tensor: tensor_pb2.TensorProto, model: str = "") -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(tensor)
    return request.SerializeToString()


def declared(shape: list[int], float_val: list[float]) -> tensor_pb2.TensorProto:
    message = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    message.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape])
    message.float_val.extend(float_val)
    return message


def good() -> tensor_pb2.TensorProto:
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, np.arange(10, dtype=np.float32).reshape(1, 10))
    return message


def post(endpoint: SageMakerServer, content: bytes):
    return endpoint.client.post("/invocations", content=content, headers={"Content-Type": "application/x-protobuf"})


def peak_rss_mb(endpoint: SageMakerServer) -> float:
    for line in Path(f"/proc/{endpoint.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_one_value_declaring_a_gigabyte_is_checked_against_the_model_first(endpoint: SageMakerServer) -> None:
    before = peak_rss_mb(endpoint)
    reply = post(endpoint, body(declared([67_108_864, 4], [1.0])))
    growth = peak_rss_mb(endpoint) - before
    assert reply.status_code == 400, reply.text
    assert "Obtained shape [67108864, 4], required shape [1, 10]" in reply.json()["error"]
    assert growth < GROWTH_BOUND_MB, f"peak RSS grew by {growth:.0f} MiB for a 35-byte body"
    assert post(endpoint, body(good())).status_code == 200


def test_a_zero_dimension_beside_huge_ones_is_a_400_naming_the_dimension(endpoint: SageMakerServer) -> None:
    reply = post(endpoint, body(declared([0, 2**62, 2**62], [])))
    assert reply.status_code == 400, reply.text
    assert f"dimension 1 of shape [0, {2**62}, {2**62}]" in reply.json()["error"]


def test_a_request_naming_another_model_is_refused_naming_the_served_one(endpoint: SageMakerServer) -> None:
    reply = post(endpoint, body(good(), model="resnet"))
    assert reply.status_code == 400, reply.text
    assert "names model 'resnet', which this endpoint does not serve" in reply.json()["error"]
    assert "['model']" in reply.json()["error"]
    for name in ("", "model"):
        answered = post(endpoint, body(good(), model=name))
        assert answered.status_code == 200 and answered.json() == {"predictions": [[float(v + 1) for v in range(10)]]}
