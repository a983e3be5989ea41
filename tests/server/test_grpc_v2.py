"""KServe v2 gRPC (``inference.GRPCInferenceService``) against a real server, with ovserve's generated stubs.

One real server (module scope) on free ports serves, from a config.json in
f32 precision: ``add`` (x + 1, [1, 10]), ``two`` (sum and product of two
[-1, 3] inputs), ``versions`` (x + 1 as version 1, x + 2 as version 2),
``ints`` (i64 row sums), ``echo`` (strings) and ``half`` (f16 x 2). Values
are checked against in-process OpenVINO on the same model objects; every bad
call checks its exact status code and a fragment of the message, and the
module ends by checking the server still answers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from ovserve.handler.protos import grpc_service_pb2 as pb
from tests import models
from tests.grpc_generated import grpc_service_pb2_grpc
from tests.serverproc import Server, live_until_done, ready_channel, write_config

TIMEOUT = 60
X = np.arange(10, dtype=np.float32).reshape(1, 10) / 7
A = np.array([[1.5, -2, 3], [4, 5, 6.25]], dtype=np.float32)
B = np.array([[0.5, 2, -1], [2, 0, 4]], dtype=np.float32)
MODELS = {
    "add": models.add_one(),
    "two": models.two_in_two_out(),
    "ints": models.int_sum(),
    "echo": models.strings_echo(),
    "half": models.half_double(),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("grpc_v2")
    config = write_config(root, MODELS, with_versions=True)
    started = Server(["--config_path", str(config)], log_path=root / "server.log")
    yield from live_until_done(started)


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    yield from ready_channel(server, TIMEOUT)


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> grpc_service_pb2_grpc.GRPCInferenceServiceStub:
    return grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)


def raw_input(request: pb.ModelInferRequest, name: str, array: np.ndarray, datatype: str) -> None:
    request.inputs.add(name=name, datatype=datatype, shape=array.shape)
    request.raw_input_contents.append(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def infer(stub, model: str, inputs: dict[str, tuple[np.ndarray, str]], **fields) -> pb.ModelInferResponse:
    request = pb.ModelInferRequest(model_name=model, **fields)
    for name, (array, datatype) in inputs.items():
        raw_input(request, name, array, datatype)
    return stub.ModelInfer(request, timeout=TIMEOUT)


def outputs_of(response: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    """The outputs as tritonclient reads them: raw_output_contents by position."""
    assert len(response.raw_output_contents) == len(response.outputs)
    arrays = {}
    for output, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        assert not output.HasField("contents"), "answers are raw only"
        dtype = {"FP32": "<f4", "FP16": "<f2", "INT64": "<i8"}[output.datatype]
        arrays[output.name] = np.frombuffer(raw, dtype=dtype).reshape(tuple(output.shape))
    return arrays


def rpc_error(call, *args) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, timeout=TIMEOUT)
    return caught.value


def assert_status(error: grpc.RpcError, code: grpc.StatusCode, fragment: str) -> None:
    assert error.code() == code, error.details()
    assert fragment in error.details(), error.details()


# ---------------------------------------------------------------- health and metadata


def test_server_live_ready_and_metadata(stub):
    assert stub.ServerLive(pb.ServerLiveRequest(), timeout=TIMEOUT).live is True
    assert stub.ServerReady(pb.ServerReadyRequest(), timeout=TIMEOUT).ready is True
    from ovserve.handler import __version__

    metadata = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=TIMEOUT)
    assert (metadata.name, metadata.version, list(metadata.extensions)) == (
        "ovserve", __version__, ["binary_tensor_data", "model_configuration", "model_repository"])


@pytest.mark.parametrize(("name", "version"), [("add", ""), ("versions", "1"), ("versions", "2"), ("versions", "0")])
def test_model_ready(stub, name, version):
    assert stub.ModelReady(pb.ModelReadyRequest(name=name, version=version), timeout=TIMEOUT).ready is True


@pytest.mark.parametrize(
    ("name", "version", "fragment"),
    [("nope", "", "Model 'nope' not found"), ("versions", "7", "no version 7"), ("add", "latest", "'latest' not found"),
     ("add", "-1", "'-1' not found")],
)
def test_model_ready_unknown_is_not_found(stub, name, version, fragment):
    error = rpc_error(stub.ModelReady, pb.ModelReadyRequest(name=name, version=version))
    assert_status(error, grpc.StatusCode.NOT_FOUND, fragment)


def test_model_metadata(stub):
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="two"), timeout=TIMEOUT)
    assert (metadata.name, list(metadata.versions), metadata.platform) == ("two", ["1"], "openvino")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("a", "FP32", [-1, 3]), ("b", "FP32", [-1, 3])]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("sum", "FP32", [-1, 3]), ("product", "FP32", [-1, 3])
    ]
    versions = stub.ModelMetadata(pb.ModelMetadataRequest(name="versions", version="1"), timeout=TIMEOUT)
    assert list(versions.versions) == ["1", "2"]
    strings = stub.ModelMetadata(pb.ModelMetadataRequest(name="echo"), timeout=TIMEOUT)
    assert [(t.datatype, list(t.shape)) for t in strings.inputs] == [("BYTES", [-1])]
    assert_status(rpc_error(stub.ModelMetadata, pb.ModelMetadataRequest(name="versions", version="3")),
                  grpc.StatusCode.NOT_FOUND, "version 3")


def test_model_config(stub):
    config = stub.ModelConfig(pb.ModelConfigRequest(name="ints"), timeout=TIMEOUT).config
    assert (config.name, config.platform, config.max_batch_size) == ("ints", "openvino", 0)
    assert [(t.name, pb.DataType.Name(t.data_type), list(t.dims)) for t in config.input] == [("values", "TYPE_INT64", [-1, 4])]
    assert [(t.name, pb.DataType.Name(t.data_type), list(t.dims)) for t in config.output] == [("total", "TYPE_INT64", [-1])]
    half = stub.ModelConfig(pb.ModelConfigRequest(name="half"), timeout=TIMEOUT).config
    assert pb.DataType.Name(half.input[0].data_type) == "TYPE_FP16"


# ---------------------------------------------------------------- inference


def test_infer_raw_fp32_echoes_id_and_version(stub):
    response = infer(stub, "add", {"x": (X, "FP32")}, id="request-7")
    expected = models.reference_model_answer(MODELS["add"], {"x": X})["y"]
    assert (response.model_name, response.model_version, response.id) == ("add", "1", "request-7")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("y", "FP32", [1, 10])]
    np.testing.assert_array_equal(outputs_of(response)["y"], expected)
    assert infer(stub, "add", {"x": (X, "FP32")}).id == ""


def test_infer_typed_contents_and_mixed_forms(stub):
    """kserve mixes forms: a typed input and a raw one in one request; the raw entry goes to the input without contents."""
    request = pb.ModelInferRequest(model_name="two")
    request.inputs.add(name="a", datatype="FP32", shape=A.shape, contents=pb.InferTensorContents(fp32_contents=A.ravel()))
    raw_input(request, "b", B, "FP32")
    answer = outputs_of(stub.ModelInfer(request, timeout=TIMEOUT))
    expected = models.reference_model_answer(MODELS["two"], {"a": A, "b": B})
    assert list(answer) == ["sum", "product"]
    for name in answer:
        np.testing.assert_array_equal(answer[name], expected[name])


def test_infer_output_filter_keeps_the_requested_order(stub):
    request = pb.ModelInferRequest(model_name="two")
    raw_input(request, "a", A, "FP32")
    raw_input(request, "b", B, "FP32")
    request.outputs.add(name="product")
    answer = outputs_of(stub.ModelInfer(request, timeout=TIMEOUT))
    assert list(answer) == ["product"]
    np.testing.assert_array_equal(answer["product"], A * B)
    request.outputs.add(name="sum")
    assert list(outputs_of(stub.ModelInfer(request, timeout=TIMEOUT))) == ["product", "sum"]


@pytest.mark.parametrize(("version", "added", "served"), [("1", 1, "1"), ("2", 2, "2"), ("", 2, "2")])
def test_infer_a_specific_version(stub, version, added, served):
    response = infer(stub, "versions", {"x": (X, "FP32")}, model_version=version)
    assert response.model_version == served
    np.testing.assert_allclose(outputs_of(response)["y"], X + added, rtol=1e-6)


def test_infer_fp16_raw(stub):
    halves = np.array([0.5, -3, 1024, 0.1], dtype=np.float16)
    response = infer(stub, "half", {"h": (halves, "FP16")})
    assert response.outputs[0].datatype == "FP16"
    np.testing.assert_array_equal(outputs_of(response)["doubled"], models.reference_model_answer(MODELS["half"], {"h": halves})["doubled"])


def test_infer_int64_typed_and_int32_converted(stub):
    values = np.array([[1, 2, 3, 4], [-5, 6, 70_000, 123_456]], dtype=np.int64)
    request = pb.ModelInferRequest(model_name="ints")
    request.inputs.add(name="values", datatype="INT64", shape=values.shape,
                       contents=pb.InferTensorContents(int64_contents=values.ravel().tolist()))
    np.testing.assert_array_equal(outputs_of(stub.ModelInfer(request, timeout=TIMEOUT))["total"], values.sum(axis=1))
    answer = outputs_of(infer(stub, "ints", {"values": (values.astype(np.int32), "INT32")}))
    np.testing.assert_array_equal(answer["total"], values.sum(axis=1))


def frame(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def test_infer_bytes_contents_and_raw_framing(stub):
    texts = [b"hello", "w\u00f6rld".encode(), b"", b"\x89PNG\r\n\x1a\xff\xfe"]  # the last is not UTF-8: kept as sent
    request = pb.ModelInferRequest(model_name="echo")
    request.inputs.add(name="text", datatype="BYTES", shape=[4], contents=pb.InferTensorContents(bytes_contents=texts))
    for sent in (request, _raw_bytes_request(texts)):
        response = stub.ModelInfer(sent, timeout=TIMEOUT)
        assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [("text", "BYTES", [4])]
        assert list(response.raw_output_contents) == [frame(texts)]


def _raw_bytes_request(texts: list[bytes]) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="echo")
    request.inputs.add(name="text", datatype="BYTES", shape=[len(texts)])
    request.raw_input_contents.append(frame(texts))
    return request


# ---------------------------------------------------------------- bad input


def _request(model: str = "add", datatype: str = "FP32", shape=(1, 10), raw: list[bytes] | None = None,
             contents: pb.InferTensorContents | None = None, name: str = "x") -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
    if contents is not None:
        tensor.contents.CopyFrom(contents)
    request.raw_input_contents.extend([X.tobytes()] if raw is None and contents is None else raw or [])
    return request


BAD_INPUTS = {
    "wrong datatype": (_request(datatype="BYTES", raw=[frame([b"a"] * 10)]), "Invalid data type for input 'x'"),
    "unknown datatype": (_request(datatype="FP8"), "datatype 'FP8' is not supported"),
    "raw too short": (_request(raw=[X.tobytes()[:-4]]), "needs 40 bytes"),
    "count not matching the shape": (
        _request(contents=pb.InferTensorContents(fp32_contents=[1.0] * 9)), "fp32_contents holds 9 values"
    ),
    "values in the wrong field": (
        _request(contents=pb.InferTensorContents(int_contents=[1] * 10)), "carries its values in fp32_contents"
    ),
    "10^12 elements": (_request(shape=(1_000_000, 1_000_000)), "too large"),
    "negative dimension": (_request(shape=(1, -10)), "non-negative"),
    "wrong shape": (_request(shape=(2, 5)), "Invalid input shape for 'x'"),
    "more raw entries than inputs": (_request(raw=[X.tobytes(), X.tobytes()]), "2 raw_input_contents entries"),
    "no data": (_request(raw=[]), "no raw_input_contents entry is left"),
    "unknown input": (_request(name="z"), "input tensor alias not found in signature: ['z']"),
    "fp16 typed": (_request(model="half", name="h", datatype="FP16", shape=[1], contents=pb.InferTensorContents(fp32_contents=[1])),
                   "send it in raw_input_contents"),
    "bytes framing short": (_request(model="echo", name="text", datatype="BYTES", shape=[2], raw=[frame([b"a"])]),
                            "BYTES element 1 of 2 is missing"),
    "int32 out of range": (
        _request(model="ints", name="values", datatype="INT8", shape=[1, 4],
                 contents=pb.InferTensorContents(int_contents=[1, 2, 300, 4])), "outside the range of INT8"
    ),
    "empty model name": (_request(model=""), "model name is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_invalid_argument(stub, case):
    request, fragment = BAD_INPUTS[case]
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.INVALID_ARGUMENT, fragment)


def test_refused_parameters_and_outputs(stub):
    request = _request()
    request.outputs.add(name="nope")
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.INVALID_ARGUMENT, "output tensors not in signature")
    request = _request()
    request.outputs.add(name="y").parameters["classification"].int64_param = 3
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.INVALID_ARGUMENT, "'classification' is not supported")
    request = _request()
    request.inputs[0].parameters["shared_memory_region"].string_param = "r"
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.INVALID_ARGUMENT, "'shared_memory_region'")


def test_triton_request_parameters_are_accepted(stub):
    request = _request()
    request.parameters["priority"].uint64_param = 1
    request.parameters["timeout"].int64_param = 1000
    request.parameters["custom"].double_param = 0.5
    request.inputs[0].parameters["binary_data_size"].int64_param = 40
    assert outputs_of(stub.ModelInfer(request, timeout=TIMEOUT))["y"].shape == (1, 10)


def test_unknown_model_and_version_are_not_found(stub):
    assert_status(rpc_error(stub.ModelInfer, _request(model="nope")), grpc.StatusCode.NOT_FOUND, "Model 'nope' not found")
    request = _request(model="versions")
    request.model_version = "9"
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.NOT_FOUND, "version 9 is not served")
    request.model_version = "v1"
    assert_status(rpc_error(stub.ModelInfer, request), grpc.StatusCode.NOT_FOUND, "'v1' not found")


def test_undecodable_bytes_and_undeclared_methods(channel):
    infer_bytes = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    assert_status(rpc_error(infer_bytes, b"\xff\xff\xff"), grpc.StatusCode.INVALID_ARGUMENT,
                  "not a serialized inference.ModelInferRequest")
    statistics = channel.unary_unary("/inference.GRPCInferenceService/ModelStatistics")
    assert rpc_error(statistics, b"").code() == grpc.StatusCode.UNIMPLEMENTED


def test_large_requests_and_answers_go_through_the_worker_path(stub):
    """Inputs and outputs above ``offload.OFFLOAD_AT_BYTES`` are decoded and serialized off the loop: same answers."""
    rows = 100_000  # 1.2 MB per tensor
    a = np.linspace(-1, 1, rows * 3, dtype=np.float32).reshape(rows, 3)
    b = np.flip(a).copy()
    answer = outputs_of(infer(stub, "two", {"a": (a, "FP32"), "b": (b, "FP32")}))
    assert answer["sum"].shape == (rows, 3)
    np.testing.assert_array_equal(answer["sum"], a + b)
    np.testing.assert_array_equal(answer["product"], a * b)


def test_still_serving_after_the_bad_calls(stub, server: Server, tmp_path: Path):
    """Runs last in the module: every refusal above left the server answering correctly."""
    np.testing.assert_array_equal(outputs_of(infer(stub, "add", {"x": (X, "FP32")}))["y"],
                                  models.reference_model_answer(MODELS["add"], {"x": X})["y"])
    assert server.process.poll() is None
