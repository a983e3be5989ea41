"""Every bad gRPC call gets the right status code and a clear message, and the server keeps serving.

One real server (module scope) serves four models from a config.json: ``add``
(x + 1, fixed shape [1, 10], f32), ``two`` (two_in_two_out), ``image``
(image_scale [1, 3, 8, 8]) and ``int_sum`` (i64 [-1, 4] -> row sums). Calls
go through a plain ``grpc.insecure_channel``: typed ones through ovserve's
generated stubs, malformed ones as raw bytes. Each case checks the exact
``grpc.StatusCode`` and a fragment of ``details()``, then checks that a good
Predict to the same model still gets the right answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import numpy as np
import pytest

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc
from tests.serverproc import Server, ready_channel, serving

TIMEOUT = 60
ADD_X = np.arange(10, dtype=np.float32).reshape(1, 10)
IMAGE = np.arange(3 * 8 * 8, dtype=np.float32).reshape(1, 3, 8, 8)
# The CPU plugin does not compute i64 exactly (2**40 is lost, 2**30 + 70001 rounds): sums stay below 2**24.
INTS = np.array([[1, 2, 3, 4], [-5, 6, 70_000, 123_456]], dtype=np.int64)
PREDICT = "/tensorflow.serving.PredictionService/Predict"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    builders = {
        "add": models.add_one(),
        "two": models.two_in_two_out(),
        "image": models.image_scale(),
        "int_sum": models.int_sum(),
    }
    with serving(tmp_path_factory.mktemp("grpc_errors"), builders) as started:
        yield started


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    yield from ready_channel(server, TIMEOUT)


@pytest.fixture(scope="module")
def predictions(channel: grpc.Channel) -> serving_services_pb2_grpc.PredictionServiceStub:
    return serving_services_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_service(channel: grpc.Channel) -> serving_services_pb2_grpc.ModelServiceStub:
    return serving_services_pb2_grpc.ModelServiceStub(channel)


# ---------------------------------------------------------------- building requests


def tensor(array: np.ndarray) -> tensor_pb2.TensorProto:
    """``array`` as TF Serving clients send it (tensor_content, or string_val for strings)."""
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, np.asarray(array))
    return message


def typed(dtype: int, shape: list[int], field: str, values: list) -> tensor_pb2.TensorProto:
    """A TensorProto carrying ``values`` in a typed ``*_val`` field."""
    message = tensor_pb2.TensorProto(dtype=dtype)
    message.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape])
    getattr(message, field).extend(values)
    return message


def raw_content(dtype: int, shape: list[int], content: bytes) -> tensor_pb2.TensorProto:
    message = tensor_pb2.TensorProto(dtype=dtype, tensor_content=content)
    message.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape])
    return message


def predict_request(
    model: str,
    inputs: dict[str, tensor_pb2.TensorProto],
    version: int | None = None,
    label: str | None = None,
    output_filter: tuple[str, ...] = (),
) -> serving_apis_pb2.PredictRequest:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for name, message in inputs.items():
        request.inputs[name].CopyFrom(message)
    request.output_filter.extend(output_filter)
    return request


def signed(name: str) -> serving_apis_pb2.PredictRequest:
    """A good ``add`` request naming signature ``name``."""
    request = good_add_request()
    request.model_spec.signature_name = name
    return request


def good_add_request() -> serving_apis_pb2.PredictRequest:
    return predict_request("add", {"x": tensor(ADD_X)})


def expect_error(call: Callable[[], object], code: grpc.StatusCode, fragment: str) -> str:
    """``call`` fails with ``code`` and details containing ``fragment``; returns the details."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert error.code() == code, (error.code(), error.details())
    details = error.details()
    assert details and details.strip(), details
    assert fragment in details, f"{fragment!r} not in {details!r}"
    return details


def outputs_of(response: serving_apis_pb2.PredictResponse) -> dict[str, np.ndarray]:
    return {name: tensor_proto.to_array(name, message) for name, message in response.outputs.items()}


def assert_still_serves(server: Server, predictions: serving_services_pb2_grpc.PredictionServiceStub, model: str) -> None:
    """The server process is alive and a good Predict to ``model`` gets the correct answer."""
    assert server.process.poll() is None, f"server exited: {server.read_log()}"
    if model == "add":
        response = predictions.Predict(good_add_request(), timeout=TIMEOUT)
        outputs = outputs_of(response)
        assert list(outputs) == ["y"]
        assert outputs["y"].dtype == np.float32
        np.testing.assert_array_equal(outputs["y"], ADD_X + 1)
    elif model == "two":
        a = np.array([[1, 2, 3]], dtype=np.float32)
        b = np.array([[4, 5, 6]], dtype=np.float32)
        response = predictions.Predict(predict_request("two", {"a": tensor(a), "b": tensor(b)}), timeout=TIMEOUT)
        outputs = outputs_of(response)
        assert set(outputs) == {"sum", "product"}
        np.testing.assert_array_equal(outputs["sum"], a + b)
        np.testing.assert_array_equal(outputs["product"], a * b)
    elif model == "image":
        response = predictions.Predict(predict_request("image", {"image": tensor(IMAGE)}), timeout=TIMEOUT)
        expected = IMAGE * np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1)
        np.testing.assert_array_equal(outputs_of(response)["scaled"], expected)
    elif model == "int_sum":
        response = predictions.Predict(predict_request("int_sum", {"values": tensor(INTS)}), timeout=TIMEOUT)
        total = outputs_of(response)["total"]
        assert total.dtype == np.int64
        assert total.tolist() == [10, -5 + 6 + 70_000 + 123_456]
    else:
        raise AssertionError(f"no good request known for {model!r}")
    assert response.model_spec.name == model
    assert response.model_spec.version.value == 1


# ---------------------------------------------------------------- Predict with a bad request


@dataclass(frozen=True)
class Case:
    """One bad PredictRequest and what must come back."""

    id: str
    model: str  # whose good request must still work afterwards
    build: Callable[[], serving_apis_pb2.PredictRequest]
    code: grpc.StatusCode
    fragment: str


INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
AB = {"a": tensor(np.ones((1, 3), np.float32)), "b": tensor(np.ones((1, 3), np.float32))}

CASES = [
    # model and version
    Case("unknown-model", "add", lambda: predict_request("nope", {"x": tensor(ADD_X)}), NOT_FOUND,
         "Model 'nope' not found"),
    Case("empty-model-name", "add", lambda: predict_request("", {"x": tensor(ADD_X)}), INVALID, "model_spec.name is empty"),
    Case("unknown-version", "add", lambda: predict_request("add", {"x": tensor(ADD_X)}, version=7), NOT_FOUND,
         "Model 'add' version 7 is not served"),
    Case("negative-version", "add", lambda: predict_request("add", {"x": tensor(ADD_X)}, version=-1), NOT_FOUND,
         "version -1 not found: versions are positive integers"),
    Case("version-label", "add", lambda: predict_request("add", {"x": tensor(ADD_X)}, label="stable"), NOT_FOUND,
         "version label 'stable' not found: version labels are not supported"),
    Case("unknown-signature-name", "add", lambda: signed("classify"), INVALID,
         "Serving signature name: 'classify' not found in signature def; expected \"serving_default\""),
    # the TensorProto itself
    Case("zero-dimension-beside-huge-ones", "add", lambda: predict_request("add", {"x": raw_content(1, [0, 2**62, 2**62], b"")}),
         INVALID, f"input 'x': dimension 1 of shape [0, {2**62}, {2**62}] is {2**62}"),
    Case("zero-dimension-beside-huge-ones-in-float-val", "add",
         lambda: predict_request("add", {"x": typed(1, [2**62, 0, 2**62], "float_val", [])}), INVALID, "dimension 0"),
    Case("content-shorter-than-shape", "add", lambda: predict_request("add", {"x": raw_content(1, [1, 10], b"\x00" * 36)}),
         INVALID, "input 'x': tensor_content holds 36 bytes but shape [1, 10] of DT_FLOAT needs 40"),
    Case("content-longer-than-shape", "add", lambda: predict_request("add", {"x": raw_content(1, [1, 10], b"\x00" * 44)}),
         INVALID, "tensor_content holds 44 bytes"),
    Case("negative-dimension", "add", lambda: predict_request("add", {"x": raw_content(1, [-1, 10], b"\x00" * 40)}),
         INVALID, "input 'x': tensor_shape has negative dimension -1"),
    Case("unknown-rank", "add",
         lambda: predict_request("add", {"x": tensor_pb2.TensorProto(dtype=1, tensor_shape={"unknown_rank": True})}),
         INVALID, "input 'x': tensor_shape has unknown rank"),
    Case("too-many-float-vals", "add", lambda: predict_request("add", {"x": typed(1, [1, 10], "float_val", [1.0] * 11)}),
         INVALID, "input 'x': float_val holds 11 values but shape [1, 10] needs 10"),
    Case("values-in-the-wrong-field", "add", lambda: predict_request("add", {"x": typed(1, [1, 10], "double_val", [1.0] * 10)}),
         INVALID, "float_val holds 0 values"),
    Case("unsupported-dtype", "add", lambda: predict_request("add", {"x": raw_content(8, [1, 10], b"\x00" * 80)}),
         INVALID, "input 'x': DT_COMPLEX64 is not supported"),
    Case("bfloat16", "add", lambda: predict_request("add", {"x": raw_content(14, [1, 10], b"\x00" * 20)}),
         INVALID, "DT_BFLOAT16 is not supported"),
    Case("string-with-tensor-content", "add", lambda: predict_request("add", {"x": raw_content(7, [1, 10], b"a" * 10)}),
         INVALID, "DT_STRING tensors carry string_val, not tensor_content"),
    Case("int-val-out-of-range", "int_sum", lambda: predict_request("int_sum", {"values": typed(6, [1, 4], "int_val", [1, 2, 3, 300])}),
         INVALID, "input 'values': values outside the range of DT_INT8"),
    Case("half-val-not-a-bit-pattern", "add", lambda: predict_request("add", {"x": typed(19, [1, 10], "half_val", [70000] * 10)}),
         INVALID, "half_val entries must be 16-bit patterns"),
    # element types against the model
    Case("double-that-changes-in-f32", "add", lambda: predict_request("add", {"x": typed(2, [1, 10], "double_val", [0.1] * 10)}),
         INVALID, "Invalid data type for input 'x'. Obtained DT_DOUBLE (f64), required DT_FLOAT (f32): converting would change values"),
    Case("int64-beyond-f32-precision", "add", lambda: predict_request("add", {"x": tensor(np.full((1, 10), 2**24 + 1, np.int64))}),
         INVALID, "Obtained DT_INT64 (i64), required DT_FLOAT (f32): converting would change values"),
    Case("fraction-into-int64", "int_sum", lambda: predict_request("int_sum", {"values": tensor(np.full((1, 4), 1.5, np.float32))}),
         INVALID, "Obtained DT_FLOAT (f32), required DT_INT64 (i64): integers expected"),
    Case("strings-into-f32", "add", lambda: predict_request("add", {"x": typed(7, [1, 10], "string_val", [b"1"] * 10)}),
         INVALID, "required DT_FLOAT (f32): numbers expected, strings are not converted"),
    Case("bools-into-f32", "add", lambda: predict_request("add", {"x": typed(10, [1, 10], "bool_val", [True] * 10)}),
         INVALID, "Obtained DT_BOOL (boolean), required DT_FLOAT (f32): booleans are not converted"),
    Case("uint64-beyond-int64", "int_sum", lambda: predict_request("int_sum", {"values": typed(23, [1, 4], "uint64_val", [2**63] * 4)}),
         INVALID, "Obtained DT_UINT64 (u64), required DT_INT64 (i64): values outside"),
    # names
    Case("unknown-input", "add", lambda: predict_request("add", {"z": tensor(ADD_X)}), INVALID,
         "input tensor alias not found in signature: ['z']. Inputs expected to be in the set ['x']"),
    Case("extra-input", "two", lambda: predict_request("two", {**AB, "c": tensor(np.ones((1, 3), np.float32))}), INVALID,
         "input tensor alias not found in signature: ['c']. Inputs expected to be in the set ['a', 'b']"),
    Case("output-name-as-input", "add", lambda: predict_request("add", {"y": tensor(ADD_X)}), INVALID,
         "alias not found in signature: ['y']"),
    Case("missing-input", "two", lambda: predict_request("two", {"a": AB["a"]}), INVALID,
         "missing input tensors: ['b']. The model expects all of ['a', 'b']"),
    Case("empty-inputs", "add", lambda: predict_request("add", {}), INVALID,
         "the request has no inputs; expected at least one named TensorProto in inputs"),
    # shapes
    Case("wrong-shape", "image", lambda: predict_request("image", {"image": tensor(np.zeros((1, 3, 10, 10), np.float32))}),
         INVALID, "Invalid input shape for 'image'. Obtained shape [1, 3, 10, 10], required shape [1, 3, 8, 8]"),
    Case("wrong-rank", "image", lambda: predict_request("image", {"image": tensor(np.zeros((3, 8, 8), np.float32))}),
         INVALID, "Invalid number of shape dimensions for input 'image'. Obtained shape [3, 8, 8], required shape [1, 3, 8, 8]"),
    Case("wrong-batch", "add", lambda: predict_request("add", {"x": tensor(np.zeros((2, 10), np.float32))}),
         INVALID, "Input batch size is incorrect for input 'x'. Obtained batch size 2, required batch size 1"),
    Case("wrong-width", "int_sum", lambda: predict_request("int_sum", {"values": tensor(np.zeros((2, 5), np.int64))}),
         INVALID, "Obtained shape [2, 5], required shape [-1, 4]"),
    Case("mismatched-pair", "two", lambda: predict_request("two", {"a": AB["a"], "b": tensor(np.ones((1, 2), np.float32))}),
         INVALID, "Obtained shape [1, 2], required shape [-1, 3]"),
    Case("scalar", "add", lambda: predict_request("add", {"x": tensor(np.float32(1))}), INVALID,
         "Obtained shape [], required shape [1, 10]"),
    # output_filter
    Case("unknown-output-filter", "add", lambda: predict_request("add", {"x": tensor(ADD_X)}, output_filter=("nope",)),
         INVALID, "output tensors not in signature: ['nope']. Outputs are ['y']"),
    Case("input-name-as-output-filter", "two", lambda: predict_request("two", AB, output_filter=("sum", "a")),
         INVALID, "output tensors not in signature: ['a']. Outputs are ['sum', 'product']"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_predict_gets_a_clear_status_and_the_model_keeps_serving(
    server: Server, predictions: serving_services_pb2_grpc.PredictionServiceStub, case: Case
) -> None:
    expect_error(lambda: predictions.Predict(case.build(), timeout=TIMEOUT), case.code, case.fragment)
    assert_still_serves(server, predictions, case.model)


def test_absurd_dimensions_are_refused_quickly(server: Server, predictions: serving_services_pb2_grpc.PredictionServiceStub) -> None:
    request = predict_request("add", {"x": typed(1, [1_000_000, 1_000_000], "float_val", [1.0])})  # 10^12 elements
    started = time.monotonic()
    details = expect_error(lambda: predictions.Predict(request, timeout=TIMEOUT), INVALID, "more than the")
    assert time.monotonic() - started < 5
    assert "shape [1000000, 1000000] declares 1000000000000 elements of DT_FLOAT" in details
    assert_still_serves(server, predictions, "add")


def test_absurd_dimensions_with_content_are_refused_quickly(
    server: Server, predictions: serving_services_pb2_grpc.PredictionServiceStub
) -> None:
    request = predict_request("int_sum", {"values": raw_content(9, [250_000_000_000, 4], b"\x00" * 32)})
    started = time.monotonic()
    expect_error(lambda: predictions.Predict(request, timeout=TIMEOUT), INVALID, "input 'values': shape [250000000000, 4]")
    assert time.monotonic() - started < 5
    assert_still_serves(server, predictions, "int_sum")


@pytest.mark.parametrize("name", ["", "serving_default"])
def test_the_default_signature_name_is_served(predictions: serving_services_pb2_grpc.PredictionServiceStub, name: str) -> None:
    np.testing.assert_array_equal(outputs_of(predictions.Predict(signed(name), timeout=TIMEOUT))["y"], ADD_X + 1)


# ---------------------------------------------------------------- conversions that keep values


def test_int32_into_f32_is_converted_when_values_are_exact(
    server: Server, predictions: serving_services_pb2_grpc.PredictionServiceStub
) -> None:
    request = predict_request("add", {"x": typed(3, [1, 10], "int_val", list(range(-5, 5)))})
    response = predictions.Predict(request, timeout=TIMEOUT)
    y = outputs_of(response)["y"]
    assert y.dtype == np.float32
    assert y.tolist() == [[float(v + 1) for v in range(-5, 5)]]


def test_exact_double_into_f32_is_converted(predictions: serving_services_pb2_grpc.PredictionServiceStub) -> None:
    request = predict_request("add", {"x": typed(2, [1, 10], "double_val", [0.5, -0.25, 1e10, 3, 4, 5, 6, 7, 8, 9])})
    y = outputs_of(predictions.Predict(request, timeout=TIMEOUT))["y"]
    np.testing.assert_array_equal(y, np.float32([[1.5, 0.75, 1e10 + 1, 4, 5, 6, 7, 8, 9, 10]]))


def test_int32_into_int64_and_single_value_fill(predictions: serving_services_pb2_grpc.PredictionServiceStub) -> None:
    request = predict_request("int_sum", {"values": typed(3, [3, 4], "int_val", [7])})  # one value fills [3, 4]
    total = outputs_of(predictions.Predict(request, timeout=TIMEOUT))["total"]
    assert total.dtype == np.int64
    assert total.tolist() == [28, 28, 28]


def test_half_val_into_f32(predictions: serving_services_pb2_grpc.PredictionServiceStub) -> None:
    halves = np.float16([[1.5, -2, 0.25, 4, 5, 6, 7, 8, 9, 10]])
    request = predict_request("add", {"x": typed(19, [1, 10], "half_val", halves.view(np.uint16).ravel().tolist())})
    y = outputs_of(predictions.Predict(request, timeout=TIMEOUT))["y"]
    np.testing.assert_array_equal(y, halves.astype(np.float32) + 1)


def test_output_filter_returns_only_the_named_outputs(predictions: serving_services_pb2_grpc.PredictionServiceStub) -> None:
    response = predictions.Predict(predict_request("two", AB, output_filter=("product",)), timeout=TIMEOUT)
    outputs = outputs_of(response)
    assert list(outputs) == ["product"]
    assert outputs["product"].tolist() == [[1.0, 1.0, 1.0]]


# ---------------------------------------------------------------- malformed protobuf on the wire


def raw_predict(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    return channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=None)


def test_good_request_as_raw_bytes(channel: grpc.Channel) -> None:
    answer = raw_predict(channel)(good_add_request().SerializeToString(), timeout=TIMEOUT)
    response = serving_apis_pb2.PredictResponse.FromString(answer)
    np.testing.assert_array_equal(outputs_of(response)["y"], ADD_X + 1)


# ovserve parses request bytes itself, so undecodable ones are bad input, not grpc's UNKNOWN.
UNPARSABLE = grpc.StatusCode.INVALID_ARGUMENT
UNPARSABLE_DETAILS = "request is not a serialized tensorflow.serving.PredictRequest"


@pytest.mark.parametrize("cut", [5, 20, -7, -1])
def test_truncated_protobuf(server: Server, channel: grpc.Channel, predictions, cut: int) -> None:
    body = good_add_request().SerializeToString()[:cut]
    with pytest.raises(Exception):  # noqa: B017 (whatever protobuf raises: the bytes must not parse)
        serving_apis_pb2.PredictRequest.FromString(body)
    expect_error(lambda: raw_predict(channel)(body, timeout=TIMEOUT), UNPARSABLE, UNPARSABLE_DETAILS)
    assert_still_serves(server, predictions, "add")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_garbage(server: Server, channel: grpc.Channel, predictions, seed: int) -> None:
    body = np.random.default_rng(seed).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    with pytest.raises(Exception):  # noqa: B017
        serving_apis_pb2.PredictRequest.FromString(body)
    expect_error(lambda: raw_predict(channel)(body, timeout=TIMEOUT), UNPARSABLE, UNPARSABLE_DETAILS)
    assert_still_serves(server, predictions, "add")


def test_json_sent_to_grpc(server: Server, channel: grpc.Channel, predictions) -> None:
    body = json.dumps({"inputs": ADD_X.tolist()}).encode()
    expect_error(lambda: raw_predict(channel)(body, timeout=TIMEOUT), UNPARSABLE, UNPARSABLE_DETAILS)
    assert_still_serves(server, predictions, "add")


def test_empty_message_names_no_model(server: Server, channel: grpc.Channel, predictions) -> None:
    # Zero bytes are a valid, empty PredictRequest: it names no model.
    expect_error(lambda: raw_predict(channel)(b"", timeout=TIMEOUT), INVALID, "model_spec.name is empty")
    assert_still_serves(server, predictions, "add")


def test_request_without_inputs_as_raw_bytes(server: Server, channel: grpc.Channel, predictions) -> None:
    body = predict_request("two", {}).SerializeToString()
    expect_error(lambda: raw_predict(channel)(body, timeout=TIMEOUT), INVALID, "the request has no inputs")
    assert_still_serves(server, predictions, "two")


def test_many_malformed_calls_in_a_row(server: Server, channel: grpc.Channel, predictions) -> None:
    body = good_add_request().SerializeToString()
    call = raw_predict(channel)
    for cut in range(1, len(body), max(1, len(body) // 40)):
        try:
            call(body[:cut], timeout=TIMEOUT)
        except grpc.RpcError as error:
            assert error.code() in (UNPARSABLE, INVALID, NOT_FOUND), (cut, error.code(), error.details())
    assert_still_serves(server, predictions, "add")
    assert_still_serves(server, predictions, "two")


# ---------------------------------------------------------------- methods that are not implemented


@pytest.mark.parametrize("method", ["Classify", "Regress", "MultiInference"])
def test_other_prediction_methods_are_unimplemented(server: Server, channel: grpc.Channel, predictions, method: str) -> None:
    call = channel.unary_unary(f"/tensorflow.serving.PredictionService/{method}", request_serializer=None, response_deserializer=None)
    expect_error(lambda: call(b"", timeout=TIMEOUT), grpc.StatusCode.UNIMPLEMENTED, "Method not found")
    assert_still_serves(server, predictions, "add")


def test_reload_config_is_unimplemented_with_a_reason(server: Server, channel: grpc.Channel, predictions) -> None:
    call = channel.unary_unary(
        "/tensorflow.serving.ModelService/HandleReloadConfigRequest", request_serializer=None, response_deserializer=None
    )
    details = expect_error(
        lambda: call(b"", timeout=TIMEOUT), grpc.StatusCode.UNIMPLEMENTED, "HandleReloadConfigRequest is not supported"
    )
    assert "--file_system_poll_wait_seconds" in details
    assert_still_serves(server, predictions, "add")


# ---------------------------------------------------------------- GetModelMetadata and GetModelStatus


def metadata_request(model: str, fields: list[str], version: int | None = None) -> serving_apis_pb2.GetModelMetadataRequest:
    request = serving_apis_pb2.GetModelMetadataRequest(metadata_field=fields)
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    return request


def status_request(model: str, version: int | None = None, label: str | None = None) -> serving_apis_pb2.GetModelStatusRequest:
    request = serving_apis_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    return request


def test_metadata_with_an_unsupported_field(server: Server, predictions) -> None:
    details = expect_error(
        lambda: predictions.GetModelMetadata(metadata_request("add", ["other"]), timeout=TIMEOUT), INVALID, "'other'"
    )
    assert "only signature_def" in details
    expect_error(
        lambda: predictions.GetModelMetadata(metadata_request("add", ["signature_def", "other"]), timeout=TIMEOUT),
        INVALID,
        "metadata field 'other' is not supported",
    )
    assert_still_serves(server, predictions, "add")


def test_metadata_with_no_field(server: Server, predictions) -> None:
    expect_error(
        lambda: predictions.GetModelMetadata(metadata_request("add", []), timeout=TIMEOUT), INVALID, "metadata_field is empty"
    )
    assert_still_serves(server, predictions, "add")


def test_metadata_of_unknown_model_and_version(server: Server, predictions) -> None:
    expect_error(
        lambda: predictions.GetModelMetadata(metadata_request("nope", ["signature_def"]), timeout=TIMEOUT),
        NOT_FOUND,
        "Model 'nope' not found",
    )
    expect_error(
        lambda: predictions.GetModelMetadata(metadata_request("add", ["signature_def"], version=9), timeout=TIMEOUT),
        NOT_FOUND,
        "Model 'add' version 9 is not served",
    )
    assert_still_serves(server, predictions, "add")


def test_good_metadata(predictions) -> None:
    response = predictions.GetModelMetadata(metadata_request("int_sum", ["signature_def"]), timeout=TIMEOUT)
    assert response.model_spec.name == "int_sum"
    assert response.model_spec.version.value == 1
    signatures = serving_apis_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    definition = signatures.signature_def["serving_default"]
    assert definition.inputs["values"].dtype == tensor_pb2.DT_INT64
    assert [dim.size for dim in definition.inputs["values"].tensor_shape.dim] == [-1, 4]
    assert definition.outputs["total"].dtype == tensor_pb2.DT_INT64


def test_status_of_unknown_model(server: Server, model_service, predictions) -> None:
    expect_error(lambda: model_service.GetModelStatus(status_request("nope"), timeout=TIMEOUT), NOT_FOUND, "Model 'nope' not found")
    assert_still_serves(server, predictions, "add")


def test_status_of_unknown_version_and_label(server: Server, model_service, predictions) -> None:
    expect_error(
        lambda: model_service.GetModelStatus(status_request("add", version=7), timeout=TIMEOUT), NOT_FOUND, "Model 'add' has no version 7"
    )
    expect_error(
        lambda: model_service.GetModelStatus(status_request("add", label="canary"), timeout=TIMEOUT),
        NOT_FOUND,
        "version label 'canary' not found",
    )
    expect_error(
        lambda: model_service.GetModelStatus(status_request("add", version=-2), timeout=TIMEOUT),
        NOT_FOUND,
        "versions are positive integers",
    )
    assert_still_serves(server, predictions, "add")


def test_good_status(model_service) -> None:
    response = model_service.GetModelStatus(status_request("add", version=1), timeout=TIMEOUT)
    rows = [(row.version, row.state, row.status.error_code) for row in response.model_version_status]
    assert rows == [(1, serving_apis_pb2.ModelVersionStatus.AVAILABLE, 0)]


# ---------------------------------------------------------------- same wording as REST


@dataclass(frozen=True)
class Twin:
    """The same mistake made over gRPC and over REST."""

    id: str
    grpc_request: Callable[[], serving_apis_pb2.PredictRequest]
    code: grpc.StatusCode
    rest_path: str
    rest_body: dict
    rest_status: int


TWINS = [
    Twin("unknown-model", lambda: predict_request("nope", {"x": tensor(ADD_X)}), NOT_FOUND,
         "/v1/models/nope:predict", {"inputs": ADD_X.tolist()}, 404),
    Twin("unknown-version", lambda: predict_request("add", {"x": tensor(ADD_X)}, version=7), NOT_FOUND,
         "/v1/models/add/versions/7:predict", {"inputs": ADD_X.tolist()}, 404),
    Twin("unknown-input", lambda: predict_request("add", {"z": tensor(ADD_X)}), INVALID,
         "/v1/models/add:predict", {"inputs": {"z": ADD_X.tolist()}}, 400),
    Twin("missing-input", lambda: predict_request("two", {"a": AB["a"]}), INVALID,
         "/v1/models/two:predict", {"inputs": {"a": [[1, 1, 1]]}}, 400),
    Twin("wrong-shape", lambda: predict_request("image", {"image": tensor(np.zeros((1, 3, 10, 10), np.float32))}), INVALID,
         "/v1/models/image:predict", {"inputs": np.zeros((1, 3, 10, 10)).tolist()}, 400),
    Twin("wrong-rank", lambda: predict_request("image", {"image": tensor(np.zeros((3, 8, 8), np.float32))}), INVALID,
         "/v1/models/image:predict", {"inputs": np.zeros((3, 8, 8)).tolist()}, 400),
    Twin("wrong-batch", lambda: predict_request("add", {"x": tensor(np.zeros((2, 10), np.float32))}), INVALID,
         "/v1/models/add:predict", {"inputs": np.zeros((2, 10)).tolist()}, 400),
    Twin("fraction-into-int64", lambda: predict_request("int_sum", {"values": tensor(np.full((1, 4), 1.5))}), INVALID,
         "/v1/models/int_sum:predict", {"inputs": [[1.5] * 4]}, 400),
]


@pytest.mark.parametrize("twin", TWINS, ids=[twin.id for twin in TWINS])
def test_grpc_details_match_the_rest_error(server: Server, predictions, twin: Twin) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        predictions.Predict(twin.grpc_request(), timeout=TIMEOUT)
    assert caught.value.code() == twin.code, (caught.value.code(), caught.value.details())
    response = server.client.post(twin.rest_path, json=twin.rest_body)
    assert response.status_code == twin.rest_status, response.text
    assert caught.value.details() == response.json()["error"]


def test_version_label_and_negative_version_say_the_same_thing_as_rest(server: Server, predictions) -> None:
    label = expect_error(
        lambda: predictions.Predict(predict_request("add", {"x": tensor(ADD_X)}, label="stable"), timeout=TIMEOUT),
        NOT_FOUND,
        "labels are not supported",
    )
    rest = server.client.post("/v1/models/add/labels/stable:predict", json={"inputs": ADD_X.tolist()})
    assert rest.status_code == 404
    assert rest.json()["error"] == label
    negative = expect_error(
        lambda: predictions.Predict(predict_request("add", {"x": tensor(ADD_X)}, version=-1), timeout=TIMEOUT),
        NOT_FOUND,
        "versions are positive integers",
    )
    rest = server.client.post("/v1/models/add/versions/-1:predict", json={"inputs": ADD_X.tolist()})
    assert rest.status_code == 404
    assert "versions are positive integers" in rest.json()["error"] and "-1" in negative


def test_server_is_alive_after_all_bad_calls(server: Server, predictions, model_service) -> None:
    assert server.process.poll() is None, server.read_log()
    for model in ("add", "two", "image", "int_sum"):
        assert_still_serves(server, predictions, model)
    response = model_service.GetModelStatus(status_request("two"), timeout=TIMEOUT)
    assert [row.state for row in response.model_version_status] == [serving_apis_pb2.ModelVersionStatus.AVAILABLE]
