"""TensorProto codec (handler/codecs/tensor_proto.py) and TF Serving message helpers (handler/codecs/tfs_proto.py).

Every TensorProto here is built by hand with ovserve's own generated classes,
the way a TF Serving client puts it on the wire: raw little-endian bytes in
``tensor_content`` or one of the typed ``*_val`` lists.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ovserve.handler import offload
from ovserve.handler.codecs import tensor_proto, tfs_proto
from ovserve.handler.errors import InvalidInput, NotFound
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.status import VersionStatus
from ovserve.handler.tensors import BY_OV_NAME, BY_TF_ENUM


def proto(dtype: int, shape: list[int] | None, **fields) -> tensor_pb2.TensorProto:
    """A TensorProto of ``dtype`` and ``shape`` (None: unknown rank), with the given fields set."""
    message = tensor_pb2.TensorProto(dtype=dtype)
    if shape is None:
        message.tensor_shape.unknown_rank = True
    else:
        message.tensor_shape.dim.extend([tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape])
    for key, value in fields.items():
        if key == "tensor_content":
            message.tensor_content = value
        else:
            getattr(message, key).extend(value)
    return message


def invalid(message: tensor_pb2.TensorProto, name: str = "x", **kwargs) -> str:
    """The InvalidInput message to_array raises for ``message``; it must name the input."""
    with pytest.raises(InvalidInput) as caught:
        tensor_proto.to_array(name, message, **kwargs)
    text = caught.value.message
    assert f"'{name}'" in text, text
    return text


def round_trip(array: np.ndarray) -> np.ndarray:
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, array)
    # Through the wire as well: what a client would parse.
    parsed = tensor_pb2.TensorProto.FromString(message.SerializeToString())
    return tensor_proto.to_array("out", parsed)


# ---------------------------------------------------------------- tensor_content


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        (tensor_pb2.DT_FLOAT, np.array([[0.5, -1.25, 3e38], [1e-38, 0.0, -0.0]], dtype=np.float32)),
        (tensor_pb2.DT_INT64, np.array([[2**62, -(2**63), 0], [1, -1, 2**63 - 1]], dtype=np.int64)),
        (tensor_pb2.DT_UINT8, np.array([[0, 255, 7], [128, 1, 254]], dtype=np.uint8)),
        (tensor_pb2.DT_BOOL, np.array([[True, False, True], [False, False, True]])),
        (tensor_pb2.DT_HALF, np.array([[1.5, -2.0, 65504.0], [0.000061035, 0.0, -0.5]], dtype=np.float16)),
        (tensor_pb2.DT_DOUBLE, np.array([[0.1, 1e300, -2.5], [3.0, 4.0, 5.0]], dtype=np.float64)),
        (tensor_pb2.DT_INT32, np.array([[-(2**31), 2**31 - 1, 0], [1, 2, 3]], dtype=np.int32)),
        (tensor_pb2.DT_UINT16, np.array([[0, 65535, 1], [2, 3, 4]], dtype=np.uint16)),
    ],
    ids=["f32", "i64", "u8", "bool", "f16", "f64", "i32", "u16"],
)
def test_tensor_content_is_decoded_without_copying(dtype: int, values: np.ndarray) -> None:
    content = values.astype(values.dtype.newbyteorder("<")).tobytes()
    result = tensor_proto.to_array("x", proto(dtype, [2, 3], tensor_content=content))
    assert result.dtype == values.dtype
    assert result.shape == (2, 3)
    np.testing.assert_array_equal(result, values)
    # A view over the bytes protobuf handed over, not a fresh copy.
    assert not result.flags.owndata
    assert not result.flags.writeable


def test_tensor_content_is_little_endian() -> None:
    content = bytes([1, 0, 0, 0, 0, 0, 0, 0]) + bytes([0, 0, 0, 0, 0, 0, 0, 1])
    result = tensor_proto.to_array("x", proto(tensor_pb2.DT_INT64, [2], tensor_content=content))
    assert result.tolist() == [1, 1 << 56]


def test_tensor_content_with_a_zero_dimension_and_empty_content_is_an_empty_array() -> None:
    result = tensor_proto.to_array("x", proto(tensor_pb2.DT_FLOAT, [0, 3]))
    assert result.shape == (0, 3)
    assert result.dtype == np.float32


def test_scalar_shape_takes_one_value() -> None:
    result = tensor_proto.to_array("x", proto(tensor_pb2.DT_FLOAT, [], tensor_content=np.float32(2.5).tobytes()))
    assert result.shape == ()
    assert result == np.float32(2.5)


# ---------------------------------------------------------------- typed value fields


@pytest.mark.parametrize(
    ("dtype", "field", "values", "expected"),
    [
        (tensor_pb2.DT_FLOAT, "float_val", [0.5, -1.5, 3.25, 8.0], np.float32),
        (tensor_pb2.DT_DOUBLE, "double_val", [0.1, -1e300, 2.0, 1e-300], np.float64),
        (tensor_pb2.DT_INT32, "int_val", [-(2**31), 2**31 - 1, 0, 5], np.int32),
        (tensor_pb2.DT_INT16, "int_val", [-32768, 32767, 0, -1], np.int16),
        (tensor_pb2.DT_INT8, "int_val", [-128, 127, 0, -1], np.int8),
        (tensor_pb2.DT_UINT8, "int_val", [0, 255, 1, 128], np.uint8),
        (tensor_pb2.DT_UINT16, "int_val", [0, 65535, 1, 2], np.uint16),
        (tensor_pb2.DT_INT64, "int64_val", [-(2**63), 2**63 - 1, 0, 2**40], np.int64),
        (tensor_pb2.DT_BOOL, "bool_val", [True, False, False, True], np.bool_),
        (tensor_pb2.DT_UINT32, "uint32_val", [0, 2**32 - 1, 7, 2**31], np.uint32),
        (tensor_pb2.DT_UINT64, "uint64_val", [0, 2**64 - 1, 7, 2**63], np.uint64),
    ],
    ids=["float_val", "double_val", "int_val-i32", "int_val-i16", "int_val-i8", "int_val-u8", "int_val-u16",
         "int64_val", "bool_val", "uint32_val", "uint64_val"],
)
def test_typed_field_is_decoded_exactly(dtype: int, field: str, values: list, expected: type) -> None:
    result = tensor_proto.to_array("x", proto(dtype, [2, 2], **{field: values}))
    assert result.dtype == np.dtype(expected)
    assert result.shape == (2, 2)
    assert result.reshape(-1).tolist() == values


def test_half_val_carries_fp16_bit_patterns() -> None:
    halves = np.float16([1.5, -2.0, 65504.0, 0.0])
    patterns = halves.view(np.uint16).astype(np.int32).tolist()
    result = tensor_proto.to_array("x", proto(tensor_pb2.DT_HALF, [4], half_val=patterns))
    assert result.dtype == np.float16
    np.testing.assert_array_equal(result, halves)
    assert result.view(np.uint16).tolist() == halves.view(np.uint16).tolist()


def test_string_val_gives_bytes_objects() -> None:
    values = [b"hello", b"", b"\x00\xffbinary", "żółw".encode()]
    result = tensor_proto.to_array("text", proto(tensor_pb2.DT_STRING, [2, 2], string_val=values))
    assert result.dtype == object
    assert result.shape == (2, 2)
    assert result.reshape(-1).tolist() == values
    assert all(isinstance(item, bytes) for item in result.flat)


@pytest.mark.parametrize(
    ("dtype", "field", "value", "expected"),
    [
        (tensor_pb2.DT_FLOAT, "float_val", 0.5, np.float32(0.5)),
        (tensor_pb2.DT_INT64, "int64_val", -7, np.int64(-7)),
        (tensor_pb2.DT_UINT8, "int_val", 200, np.uint8(200)),
        (tensor_pb2.DT_BOOL, "bool_val", True, np.True_),
        (tensor_pb2.DT_HALF, "half_val", int(np.float16(1.5).view(np.uint16)), np.float16(1.5)),
        (tensor_pb2.DT_STRING, "string_val", b"same", b"same"),
    ],
    ids=["f32", "i64", "u8", "bool", "f16", "string"],
)
def test_single_value_fills_the_declared_shape(dtype: int, field: str, value, expected) -> None:
    result = tensor_proto.to_array("x", proto(dtype, [2, 3], **{field: [value]}))
    assert result.shape == (2, 3)
    assert all(item == expected for item in result.flat)
    if dtype != tensor_pb2.DT_STRING:
        assert result.dtype == np.asarray(expected).dtype


def test_zero_values_for_an_empty_shape() -> None:
    result = tensor_proto.to_array("x", proto(tensor_pb2.DT_INT32, [3, 0]))
    assert result.shape == (3, 0)
    assert result.dtype == np.int32


# ---------------------------------------------------------------- errors


def test_content_shorter_than_the_shape_needs() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [2, 3], tensor_content=b"\x00" * 20), name="image")
    assert "tensor_content holds 20 bytes" in message
    assert "[2, 3]" in message and "needs 24" in message


def test_content_longer_than_the_shape_needs() -> None:
    message = invalid(proto(tensor_pb2.DT_INT64, [2], tensor_content=b"\x00" * 24))
    assert "holds 24 bytes" in message and "needs 16" in message and "DT_INT64" in message


def test_content_for_a_zero_sized_shape_is_refused() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [0, 3], tensor_content=b"\x00" * 4))
    assert "holds 4 bytes" in message and "needs 0" in message


def test_negative_dimension() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [1, -3], tensor_content=b"\x00" * 12))
    assert "negative dimension -3" in message


def test_minus_one_dimension_is_not_a_wildcard_in_a_request() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [-1, 2], float_val=[1.0, 2.0]))
    assert "negative dimension -1" in message


def test_unknown_rank() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, None, float_val=[1.0]))
    assert "unknown rank" in message


def test_too_many_dimensions() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [1] * 33, float_val=[1.0]))
    assert "33 dimensions" in message and "at most 32" in message


def test_absurd_shape_is_refused_before_allocating() -> None:
    started = time.monotonic()
    message = invalid(proto(tensor_pb2.DT_FLOAT, [1_000_000, 1_000_000, 1000], float_val=[1.0]), name="big")
    assert time.monotonic() - started < 1.0
    assert "more than" in message
    assert "1000000000000000 elements of DT_FLOAT" in message
    assert str(tensor_proto.DEFAULT_MAX_BYTES) in message


def test_absurd_shape_with_tensor_content_is_refused_by_size_not_by_content_length() -> None:
    message = invalid(proto(tensor_pb2.DT_INT64, [10**6, 10**6], tensor_content=b"\x00" * 8))
    assert "more than" in message


def test_max_bytes_is_the_limit() -> None:
    fits = proto(tensor_pb2.DT_FLOAT, [4], float_val=[1.0])
    assert tensor_proto.to_array("x", fits, max_bytes=16).tolist() == [1.0] * 4
    message = invalid(proto(tensor_pb2.DT_FLOAT, [5], float_val=[1.0]), max_bytes=16)
    assert "more than the 16 bytes" in message


def test_too_many_values_in_a_typed_field() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [2, 2], float_val=[1.0] * 5))
    assert "float_val holds 5 values" in message and "needs 4" in message


def test_too_few_values_in_a_typed_field() -> None:
    message = invalid(proto(tensor_pb2.DT_INT64, [3], int64_val=[1, 2]))
    assert "int64_val holds 2 values" in message and "needs 3" in message


def test_no_values_for_a_non_empty_shape() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [2]))
    assert "holds 0 values" in message and "needs 2" in message


def test_one_value_for_a_zero_sized_shape() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [0, 2], float_val=[1.0]))
    assert "holds 1 values" in message and "needs 0" in message


def test_values_in_the_field_of_another_dtype_do_not_count() -> None:
    # A DT_FLOAT tensor whose numbers sit in double_val: float_val is empty.
    message = invalid(proto(tensor_pb2.DT_FLOAT, [2], double_val=[1.0, 2.0]))
    assert "float_val holds 0 values" in message


@pytest.mark.parametrize(
    ("dtype", "values", "type_name"),
    [
        (tensor_pb2.DT_INT8, [1, 128], "DT_INT8"),
        (tensor_pb2.DT_INT8, [-129, 0], "DT_INT8"),
        (tensor_pb2.DT_UINT8, [256, 0], "DT_UINT8"),
        (tensor_pb2.DT_UINT8, [-1, 0], "DT_UINT8"),
        (tensor_pb2.DT_INT16, [40000, 0], "DT_INT16"),
        (tensor_pb2.DT_UINT16, [70000, 0], "DT_UINT16"),
    ],
    ids=["i8-high", "i8-low", "u8-high", "u8-negative", "i16-high", "u16-high"],
)
def test_int_val_out_of_range(dtype: int, values: list[int], type_name: str) -> None:
    message = invalid(proto(dtype, [2], int_val=values))
    assert f"outside the range of {type_name}" in message


def test_single_int_val_out_of_range_is_refused_before_filling() -> None:
    message = invalid(proto(tensor_pb2.DT_UINT8, [4], int_val=[300]))
    assert "outside the range of DT_UINT8" in message


@pytest.mark.parametrize("pattern", [65536, -1, 2**31 - 1])
def test_half_val_entry_must_be_a_16_bit_pattern(pattern: int) -> None:
    message = invalid(proto(tensor_pb2.DT_HALF, [2], half_val=[0, pattern]))
    assert "half_val" in message and "0..65535" in message


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [
        (tensor_pb2.DT_COMPLEX64, "DT_COMPLEX64"),
        (tensor_pb2.DT_COMPLEX128, "DT_COMPLEX128"),
        (tensor_pb2.DT_RESOURCE, "DT_RESOURCE"),
        (tensor_pb2.DT_VARIANT, "DT_VARIANT"),
        (tensor_pb2.DT_BFLOAT16, "DT_BFLOAT16"),
        (tensor_pb2.DT_QINT8, "DT_QINT8"),
        (tensor_pb2.DT_INVALID, "DT_INVALID"),
        (tensor_pb2.DT_FLOAT_REF, "DT_FLOAT_REF"),
        (999, "data type number 999"),
    ],
    ids=lambda value: str(value),
)
def test_unsupported_dtype(dtype: int, shown: str) -> None:
    assert dtype not in BY_TF_ENUM
    message = invalid(proto(dtype, [1], tensor_content=b"\x00" * 8))
    assert f"{shown} is not supported" in message


def test_every_supported_dtype_has_a_value_field() -> None:
    # Decoding a single value must work for each dtype BY_TF_ENUM accepts.
    for number, dtype in BY_TF_ENUM.items():
        message = tensor_pb2.TensorProto(dtype=number)
        message.tensor_shape.dim.add(size=2)
        field = tensor_proto._VALUE_FIELD[number]
        getattr(message, field).append(b"s" if dtype.is_string else (True if dtype.ov_name == "boolean" else 1))
        result = tensor_proto.to_array("x", message)
        assert result.shape == (2,), dtype


def test_string_tensor_with_tensor_content_is_refused() -> None:
    message = invalid(proto(tensor_pb2.DT_STRING, [2], tensor_content=b"ab"), name="text")
    assert "string_val, not tensor_content" in message


# ---------------------------------------------------------------- fill


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        np.array([[-(2**63), 2**63 - 1]], dtype=np.int64),
        np.array([0, 1, 255], dtype=np.uint8),
        np.array([[True, False], [False, True]]),
        np.float16([1.5, -2.0, 65504.0]),
        np.array([0.1, -1e300], dtype=np.float64),
        np.array([2**64 - 1, 0], dtype=np.uint64),
        np.array([-128, 127], dtype=np.int8),
        np.array(3.5, dtype=np.float32),
        np.zeros((0, 5), dtype=np.int32),
    ],
    ids=["f32", "i64", "u8", "bool", "f16", "f64", "u64", "i8", "scalar", "empty"],
)
def test_fill_then_to_array_gives_the_same_array(array: np.ndarray) -> None:
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, array)
    assert message.dtype == BY_TF_ENUM[message.dtype].tf_enum
    assert BY_TF_ENUM[message.dtype].numpy == array.dtype
    assert [dim.size for dim in message.tensor_shape.dim] == list(array.shape)
    assert len(message.tensor_content) == array.nbytes
    back = round_trip(array)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_fill_non_contiguous_arrays() -> None:
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    for view in (base[:, ::2, 1:4], base.transpose(2, 0, 1), base[::-1], np.asfortranarray(base)):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(round_trip(view), view)


def test_fill_big_endian_array_is_sent_little_endian() -> None:
    array = np.array([1.0, -2.5, 3e9], dtype=">f8")
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, array)
    assert message.dtype == tensor_pb2.DT_DOUBLE
    assert message.tensor_content == np.array([1.0, -2.5, 3e9], dtype="<f8").tobytes()
    np.testing.assert_array_equal(round_trip(array), array)


def test_fill_strings() -> None:
    array = np.array([["a", "żółw"], ["", "long text"]])
    message = tensor_pb2.TensorProto()
    tensor_proto.fill(message, array)
    assert message.dtype == tensor_pb2.DT_STRING
    assert not message.tensor_content
    assert list(message.string_val) == [b"a", "żółw".encode(), b"", b"long text"]
    back = round_trip(array)
    assert back.shape == (2, 2)
    assert back.tolist() == [[b"a", "żółw".encode()], [b"", b"long text"]]


def test_fill_bytes_keep_their_exact_bytes() -> None:
    array = np.array([b"\x00\xff", b"abc", b"\x80"], dtype=object)
    assert round_trip(array).tolist() == [b"\x00\xff", b"abc", b"\x80"]
    fixed = np.array([b"xy", b"z"])  # numpy bytes_ (kind 'S')
    assert round_trip(fixed).tolist() == [b"xy", b"z"]


def test_fill_unsupported_dtype() -> None:
    with pytest.raises(InvalidInput) as caught:
        tensor_proto.fill(tensor_pb2.TensorProto(), np.array([1 + 2j], dtype=np.complex64))
    assert "complex64" in caught.value.message
    assert "cannot be sent as a TensorProto" in caught.value.message


# ---------------------------------------------------------------- tfs_proto


def spec_with(**kwargs) -> serving_apis_pb2.ModelSpec:
    spec = serving_apis_pb2.ModelSpec(name="m")
    if "version" in kwargs:
        spec.version.value = kwargs["version"]
    if "label" in kwargs:
        spec.version_label = kwargs["label"]
    return spec


def test_requested_version_default() -> None:
    assert tfs_proto.requested_version(spec_with()) is None
    assert tfs_proto.requested_version(spec_with(version=0)) is None


def test_requested_version_number() -> None:
    assert tfs_proto.requested_version(spec_with(version=5)) == 5
    assert tfs_proto.requested_version(spec_with(version=2**62)) == 2**62


def test_requested_version_negative() -> None:
    with pytest.raises(NotFound) as caught:
        tfs_proto.requested_version(spec_with(version=-3))
    assert "version -3 not found" in caught.value.message
    assert "positive integers" in caught.value.message


def test_requested_version_label() -> None:
    with pytest.raises(NotFound) as caught:
        tfs_proto.requested_version(spec_with(label="stable"))
    assert "'stable'" in caught.value.message
    assert "labels are not supported" in caught.value.message


def test_check_metadata_fields() -> None:
    assert tfs_proto.check_metadata_fields(["signature_def"]) is None
    with pytest.raises(InvalidInput) as empty:
        tfs_proto.check_metadata_fields([])
    assert "metadata_field is empty" in empty.value.message
    with pytest.raises(InvalidInput) as other:
        tfs_proto.check_metadata_fields(["signature_def", "other"])
    assert "'other'" in other.value.message and "only signature_def" in other.value.message


SIGNATURE = Signature(
    inputs=(
        TensorSpec("image", 0, BY_OV_NAME["f32"], (1, 3, -1, (100, 200))),
        TensorSpec("anything", 1, BY_OV_NAME["i64"], None),
    ),
    outputs=(TensorSpec("scores", 0, BY_OV_NAME["f16"], (-1, 10)), TensorSpec("label", 1, BY_OV_NAME["string"], (-1,))),
)


def test_metadata_response() -> None:
    response = tfs_proto.metadata_response("resnet", 3, SIGNATURE)
    response = serving_apis_pb2.GetModelMetadataResponse.FromString(response.SerializeToString())
    assert response.model_spec.name == "resnet"
    assert response.model_spec.version.value == 3
    assert response.model_spec.signature_name == "serving_default"
    assert list(response.metadata) == ["signature_def"]
    packed = response.metadata["signature_def"]
    assert packed.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signatures = serving_apis_pb2.SignatureDefMap()
    assert packed.Unpack(signatures)
    assert list(signatures.signature_def) == ["serving_default"]
    definition = signatures.signature_def["serving_default"]
    assert definition.method_name == "tensorflow/serving/predict"
    assert set(definition.inputs) == {"image", "anything"}
    assert set(definition.outputs) == {"scores", "label"}
    image = definition.inputs["image"]
    assert image.name == "image"
    assert image.dtype == tensor_pb2.DT_FLOAT
    assert [dim.size for dim in image.tensor_shape.dim] == [1, 3, -1, -1]
    assert not image.tensor_shape.unknown_rank
    anything = definition.inputs["anything"]
    assert anything.dtype == tensor_pb2.DT_INT64
    assert anything.tensor_shape.unknown_rank
    assert len(anything.tensor_shape.dim) == 0
    scores = definition.outputs["scores"]
    assert scores.dtype == tensor_pb2.DT_HALF
    assert [dim.size for dim in scores.tensor_shape.dim] == [-1, 10]
    assert definition.outputs["label"].dtype == tensor_pb2.DT_STRING


def test_status_response() -> None:
    response = tfs_proto.status_response(
        [
            VersionStatus(2, "AVAILABLE", "OK", ""),
            VersionStatus(1, "END", "UNKNOWN", "cannot compile"),
            VersionStatus(3, "LOADING", "OK", ""),
            VersionStatus(4, "END", "SOMETHING_ELSE", "odd"),
        ]
    )
    response = serving_apis_pb2.GetModelStatusResponse.FromString(response.SerializeToString())
    rows = [(row.version, row.state, row.status.error_code, row.status.error_message) for row in response.model_version_status]
    assert rows == [(2, 30, 0, ""), (1, 50, 2, "cannot compile"), (3, 20, 0, ""), (4, 50, 2, "odd")]
    assert response.model_version_status[0].state == serving_apis_pb2.ModelVersionStatus.AVAILABLE


def test_status_response_numbers_for_every_state() -> None:
    states = ["START", "LOADING", "AVAILABLE", "UNLOADING", "END"]
    response = tfs_proto.status_response([VersionStatus(i, state, "OK", "") for i, state in enumerate(states, 1)])
    assert [row.state for row in response.model_version_status] == [10, 20, 30, 40, 50]


def valid_request() -> serving_apis_pb2.PredictRequest:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = "add"
    request.model_spec.version.value = 1
    tensor_proto.fill(request.inputs["x"], np.arange(10, dtype=np.float32).reshape(1, 10))
    request.output_filter.append("y")
    return request


def test_parse_predict_request_round_trip() -> None:
    request = valid_request()
    parsed = tfs_proto.parse_predict_request(request.SerializeToString())
    assert parsed == request
    arrays = tfs_proto.request_arrays(parsed)
    assert list(arrays) == ["x"]
    np.testing.assert_array_equal(arrays["x"], np.arange(10, dtype=np.float32).reshape(1, 10))


@pytest.mark.parametrize("cut", [3, 10, 25, -1, -5])
def test_parse_predict_request_truncated(cut: int) -> None:
    body = valid_request().SerializeToString()
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.parse_predict_request(body[:cut])
    assert "not a serialized tensorflow.serving.PredictRequest" in caught.value.message


@pytest.mark.parametrize("body", [b"\xff" * 32, b"\x0a\xff\xff\xff\xff\xff", b"{\"inputs\": [[1, 2, 3]]}", b"\x07"])
def test_parse_predict_request_garbage(body: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.parse_predict_request(body)
    assert "not a serialized tensorflow.serving.PredictRequest" in caught.value.message


def test_empty_body_is_a_request_without_inputs() -> None:
    parsed = tfs_proto.parse_predict_request(b"")
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.request_arrays(parsed)
    assert "no inputs" in caught.value.message


def test_request_arrays_names_the_bad_input() -> None:
    request = valid_request()
    bad = request.inputs["second"]
    bad.dtype = tensor_pb2.DT_FLOAT
    bad.tensor_shape.dim.add(size=3)
    bad.float_val.extend([1.0, 2.0])
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.request_arrays(request)
    assert "'second'" in caught.value.message


def test_request_arrays_applies_max_bytes() -> None:
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.request_arrays(valid_request(), max_bytes=39)
    assert "more than the 39 bytes" in caught.value.message
    assert tfs_proto.request_arrays(valid_request(), max_bytes=40)["x"].shape == (1, 10)


def test_predict_response() -> None:
    outputs = {"y": np.arange(6, dtype=np.float32).reshape(2, 3), "names": np.array(["a", "b"])}
    response = tfs_proto.predict_response("add", 4, outputs)
    response = serving_apis_pb2.PredictResponse.FromString(response.SerializeToString())
    assert response.model_spec.name == "add"
    assert response.model_spec.version.value == 4
    assert response.model_spec.signature_name == "serving_default"
    assert set(response.outputs) == {"y", "names"}
    np.testing.assert_array_equal(tensor_proto.to_array("y", response.outputs["y"]), outputs["y"])
    assert list(response.outputs["names"].string_val) == [b"a", b"b"]


# ---------------------------------------------------------------- real costs, checked before expanding (issue 12: 9, 11)

F32_ROW = Signature(inputs=(TensorSpec("x", 0, BY_OV_NAME["f32"], (1, 10)),), outputs=())
I64_ROWS = Signature(inputs=(TensorSpec("values", 0, BY_OV_NAME["i64"], (-1, 4)),), outputs=())
TEXT = Signature(inputs=(TensorSpec("text", 0, BY_OV_NAME["string"], (-1,)),), outputs=())


def predict_of(**inputs: tensor_pb2.TensorProto) -> serving_apis_pb2.PredictRequest:
    request = serving_apis_pb2.PredictRequest()
    for name, message in inputs.items():
        request.inputs[name].CopyFrom(message)
    return request


def refused(request: serving_apis_pb2.PredictRequest, signature: Signature, **kwargs) -> str:
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.request_arrays(request, signature=signature, **kwargs)
    return caught.value.message


def test_a_string_element_counts_what_it_really_costs_not_one_byte() -> None:
    # 30 bytes on the wire; as a string tensor each element costs ~50 bytes, not 1: 1.5 GB, over the 1 GiB cap.
    started = time.monotonic()
    message = invalid(proto(tensor_pb2.DT_STRING, [30_000_000], string_val=[b"a"]), name="text")
    assert time.monotonic() - started < 1.0
    assert "30000000 elements of DT_STRING" in message and "more than the" in message


def test_string_cost_counts_the_longest_value_for_every_element() -> None:
    values = [b"x" * 1000] + [b"y"] * 999  # numpy stores fixed-width bytes: 1000 x 1000 bytes
    message = invalid(proto(tensor_pb2.DT_STRING, [1000], string_val=values), name="text", max_bytes=500_000)
    assert "more than the 500000 bytes" in message
    assert tensor_proto.to_array("text", proto(tensor_pb2.DT_STRING, [1000], string_val=values), max_bytes=2_000_000).shape == (1000,)


def test_a_zero_dimension_beside_huge_ones_is_refused_naming_the_dimension() -> None:
    message = invalid(proto(tensor_pb2.DT_FLOAT, [0, 2**62, 2**62]))
    assert "dimension 1" in message and str(2**62) in message
    message = invalid(proto(tensor_pb2.DT_FLOAT, [0, 2**62, 2**62], tensor_content=b""))
    assert "dimension 1" in message
    message = invalid(proto(tensor_pb2.DT_STRING, [3, 0, 2**40]), name="text")
    assert "dimension 2" in message


def test_an_empty_tensor_with_modest_dimensions_still_decodes() -> None:
    assert tensor_proto.to_array("x", proto(tensor_pb2.DT_FLOAT, [0, 1000, 1000])).shape == (0, 1000, 1000)


def test_the_shape_is_checked_against_the_model_before_one_value_fills_it() -> None:
    request = predict_of(x=proto(tensor_pb2.DT_FLOAT, [67_108_864, 4], float_val=[1.0]))  # 30 bytes, 1 GiB filled
    started = time.monotonic()
    message = refused(request, F32_ROW)
    assert time.monotonic() - started < 0.5
    assert message == "Invalid input shape for 'x'. Obtained shape [67108864, 4], required shape [1, 10]"


def test_the_limit_counts_the_model_type_a_single_value_fills() -> None:
    # [67108864, 4] of f32 is exactly 1 GiB; filled as the model's i64 it would be 2 GiB.
    request = predict_of(values=proto(tensor_pb2.DT_FLOAT, [67_108_864, 4], float_val=[1.0]))
    message = refused(request, I64_ROWS)
    assert "more than the" in message and "[67108864, 4]" in message


def test_names_and_types_are_checked_before_decoding() -> None:
    assert "alias not found in signature: ['z']" in refused(predict_of(z=proto(tensor_pb2.DT_FLOAT, [1, 10], float_val=[1.0])), F32_ROW)
    strings = predict_of(x=proto(tensor_pb2.DT_STRING, [1, 10], string_val=[b"1"]))
    assert "required DT_FLOAT (f32): numbers expected, strings are not converted" in refused(strings, F32_ROW)
    booleans = predict_of(values=proto(tensor_pb2.DT_BOOL, [2, 4], bool_val=[True]))
    assert "booleans are not converted" in refused(booleans, I64_ROWS)


def test_with_a_signature_arrays_come_back_in_the_model_type() -> None:
    request = predict_of(values=proto(tensor_pb2.DT_INT32, [3, 4], int_val=[7]))
    values = tfs_proto.request_arrays(request, signature=I64_ROWS)["values"]
    assert values.dtype == np.int64 and values.shape == (3, 4) and values.tolist() == [[7] * 4] * 3
    text = tfs_proto.request_arrays(predict_of(text=proto(tensor_pb2.DT_STRING, [3], string_val=[b"ab"])), signature=TEXT)["text"]
    assert text.dtype == np.dtype("S2") and text.tolist() == [b"ab"] * 3


def test_a_value_that_changes_in_the_model_type_is_refused_before_filling() -> None:
    request = predict_of(values=proto(tensor_pb2.DT_FLOAT, [1000, 4], float_val=[1.5]))
    assert "integers expected" in refused(request, I64_ROWS)


def test_shape_checks_can_be_left_to_a_model_that_reshapes() -> None:
    request = predict_of(x=proto(tensor_pb2.DT_FLOAT, [2, 3], float_val=[1.0]))
    assert "Invalid input shape" in refused(request, F32_ROW)
    arrays = tfs_proto.RequestArrays(request).without_shape_checks()(F32_ROW)
    assert arrays["x"].shape == (2, 3)


def test_request_arrays_builder_reports_the_declared_work() -> None:
    request = predict_of(x=proto(tensor_pb2.DT_FLOAT, [1000, 1000], float_val=[1.0]))
    assert tfs_proto.RequestArrays(request).work_bytes == 8_000_000  # a fill counts 8 bytes per declared element
    content = predict_of(x=proto(tensor_pb2.DT_FLOAT, [40, 10], tensor_content=b"\x00" * 1600))
    assert tfs_proto.RequestArrays(content).work_bytes == 1600 // offload.RAW_BYTES_PER_WORK_BYTE  # viewed in place


@pytest.mark.parametrize("name", ["", "serving_default"])
def test_the_default_signature_name_is_accepted(name: str) -> None:
    tfs_proto.check_signature_name(serving_apis_pb2.ModelSpec(name="m", signature_name=name))


def test_another_signature_name_is_refused_naming_the_served_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        tfs_proto.check_signature_name(serving_apis_pb2.ModelSpec(name="m", signature_name="classify"))
    assert "'classify' not found" in caught.value.message and '"serving_default"' in caught.value.message
