"""KServe v2 codecs on their own: raw tensors, JSON requests and answers, binary framing; real arrays, no server."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from ovserve.handler.codecs import v2_binary, v2_json, v2_tensors
from ovserve.handler.errors import InvalidInput


@pytest.mark.parametrize("dtype", ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
                                   "float16", "float32", "float64"])
def test_raw_round_trip_of_every_fixed_datatype(dtype: str) -> None:
    array = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    name = v2_tensors.datatype_of(array)
    back = v2_tensors.from_raw(bytes(v2_tensors.to_raw(array)), name, (2, 3), "x")
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_bf16_is_the_upper_half_of_fp32() -> None:
    values = np.array([1.5, -2.0, 0.0], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    np.testing.assert_array_equal(v2_tensors.from_raw(raw, "BF16", (3,), "x"), values)


def test_bytes_framing_round_trip_and_errors() -> None:
    array = np.array([b"ab", b"", b"\xff"], dtype=object)
    framed = v2_tensors.to_raw(array)
    assert framed == b"\x02\x00\x00\x00ab\x00\x00\x00\x00\x01\x00\x00\x00\xff"
    assert list(v2_tensors.from_raw(framed, "BYTES", (3,), "x")) == [b"ab", b"", b"\xff"]
    with pytest.raises(InvalidInput, match="element 1 says 9 bytes"):
        v2_tensors.split_bytes(b"\x00\x00\x00\x00\x09\x00\x00\x00ab", 2, "x")
    with pytest.raises(InvalidInput, match="left after"):
        v2_tensors.split_bytes(framed + b"?", 3, "x")


def test_sizes_are_checked_before_allocating() -> None:
    with pytest.raises(InvalidInput, match="needs 12 bytes"):
        v2_tensors.from_raw(b"\x00" * 8, "FP32", (3,), "x")
    with pytest.raises(InvalidInput, match="too large"):
        v2_tensors.check_shape([10**6, 10**6], "FP32", "x")
    with pytest.raises(InvalidInput, match="non-negative integers"):
        v2_tensors.check_shape([1, -2], "FP32", "x")
    with pytest.raises(InvalidInput, match="0 or 1"):
        v2_tensors.from_raw(b"\x02", "BOOL", (1,), "x")


def test_json_data_flat_or_nested_and_counts() -> None:
    nested = v2_json.json_array([[1, 2], [3, 4]], "INT32", (2, 2), "x")
    flat = v2_json.json_array([1, 2, 3, 4], "INT32", (2, 2), "x")
    assert np.array_equal(nested, flat) and nested.shape == (2, 2)
    with pytest.raises(InvalidInput, match="holds 4 elements, but data has 3"):
        v2_json.json_array([1, 2, 3], "FP32", (2, 2), "x")
    assert list(v2_json.json_array(["a", "é"], "BYTES", (2,), "x")) == [b"a", "é".encode()]


def test_parse_request_rules() -> None:
    body = {"id": "7", "parameters": {"binary_data_output": True},
            "inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}],
            "outputs": [{"name": "y", "parameters": {"binary_data": False}}, {"name": "z"}]}
    request = v2_json.parse_request(orjson.dumps(body))
    assert request.request_id == "7" and request.outputs == ["y", "z"]
    assert not request.wants_binary("y") and request.wants_binary("z")
    both = {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}]}
    with pytest.raises(InvalidInput, match="exactly one of"):
        v2_json.parse_request(orjson.dumps(both))
    shared = {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "parameters": {"shared_memory_region": "r"}}]}
    with pytest.raises(InvalidInput, match="shared memory"):
        v2_json.parse_request(orjson.dumps(shared))


def test_binary_split_and_assign() -> None:
    header = orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}},
                                      {"name": "b", "shape": [1], "datatype": "FP32", "data": [2]},
                                      {"name": "c", "shape": [2], "datatype": "INT8", "parameters": {"binary_data_size": 2}}]})
    body = header + struct.pack("<f", 1.5) + b"\x01\x02"
    text, binary = v2_binary.split(body, str(len(header)))
    request = v2_json.parse_request(text)
    slices = v2_binary.assign(request.inputs, binary)
    assert bytes(slices["a"]) == struct.pack("<f", 1.5) and bytes(slices["c"]) == b"\x01\x02"
    with pytest.raises(InvalidInput, match="only"):
        v2_binary.split(body, str(len(body) + 1))
    with pytest.raises(InvalidInput, match="add up"):
        v2_binary.assign(request.inputs, memoryview(bytes(binary) + b"!"))


def test_encode_response_mixes_json_and_binary() -> None:
    request = v2_json.parse_request(orjson.dumps({"id": "q", "inputs": [{"name": "a", "shape": [1], "datatype": "FP32",
                                                                         "data": [1]}], "outputs": [
        {"name": "y", "parameters": {"binary_data": True}}, {"name": "s"}]}))
    header, blobs = v2_json.encode_response("m", "3", request, {"y": np.array([1.0, 2.0], np.float32),
                                                               "s": np.array([b"hi"], dtype=object)})
    answer = orjson.loads(header)
    assert answer["model_name"] == "m" and answer["model_version"] == "3" and answer["id"] == "q"
    assert answer["outputs"][0] == {"name": "y", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}
    assert answer["outputs"][1] == {"name": "s", "datatype": "BYTES", "shape": [1], "data": ["hi"]}
    assert bytes(blobs[0]) == np.array([1.0, 2.0], "<f4").tobytes()
