"""CSV, JSON Lines and msgpack bodies against real signatures: values, shapes, types and refusals."""

from __future__ import annotations

import msgpack
import msgpack_numpy
import numpy as np
import pytest

from ovserve.handler.codecs import csv_rows, json_lines, msgpack_arrays
from ovserve.handler.errors import InvalidInput, NotAcceptable
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import from_ov_name


def signature(*inputs: tuple[str, str, tuple]) -> Signature:
    specs = tuple(TensorSpec(name, i, from_ov_name(kind), shape) for i, (name, kind, shape) in enumerate(inputs))
    return Signature(specs, ())


IMAGE = signature(("image", "f32", (-1, 2, 3)))
VECTOR = signature(("x", "f32", (-1, 4)))
TWO = signature(("a", "f32", (-1, 3)), ("b", "f32", (-1, 3)))


def test_csv_rows_fill_the_per_record_shape_in_c_order():
    arrays = csv_rows.records(b"1,2,3,4,5,6\n7,8,9,10,11,12\n", IMAGE)
    assert arrays["image"].shape == (2, 2, 3) and arrays["image"].dtype == np.float32
    assert arrays["image"][1].tolist() == [[7, 8, 9], [10, 11, 12]]


def test_csv_accepts_crlf_blank_lines_quotes_and_exponents():
    arrays = csv_rows.records(b'1,"2",3e0,-4.5\r\n\r\n0.25, 1 ,2,3\r\n', VECTOR)
    assert arrays["x"].tolist() == [[1, 2, 3, -4.5], [0.25, 1, 2, 3]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"1,2,3,4\n1,2,3\n", "row 2 has 3 values and row 1 has 4"),
        (b"a,b,c,d\n1,2,3,4\n", "row 1 column 1: 'a' is not a number"),
        (b"1,2,3\n", "CSV rows have 3 values but input 'x' [-1, 4] takes 4 per record"),
        (b"\n \n", "no rows"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_csv_names_the_row_and_the_expectation(body, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        csv_rows.records(body, VECTOR)


def test_csv_needs_a_single_input_model():
    with pytest.raises(InvalidInput, match=r"inputs \['a', 'b'\]"):
        csv_rows.records(b"1,2,3\n", TWO)


def test_csv_answers_one_line_per_record_with_outputs_side_by_side():
    outputs = {"p": np.array([[0.1, 0.9], [0.5, 0.5]], np.float32), "label": np.array([1, 0], np.int64)}
    assert csv_rows.dump(outputs) == b"0.1,0.9,1\n0.5,0.5,0"
    assert csv_rows.dump({"s": np.array([b"a,b", b"c"], dtype=object)}) == b'"a,b"\nc'
    assert csv_rows.dump({"f": np.array([np.nan, 1.0])}) == b"nan\n1.0"
    with pytest.raises(NotAcceptable, match="batch dimension"):
        csv_rows.dump({"a": np.zeros(2), "b": np.zeros(3)})


def test_json_lines_records_are_row_format_instances():
    parsed = json_lines.parse(b'{"a": [1, 2, 3], "b": [0, 0, 1]}\n\n{"a": [4, 5, 6], "b": [1, 1, 1]}\n')
    arrays = parsed.arrays(TWO)
    assert arrays["a"].tolist() == [[1, 2, 3], [4, 5, 6]] and arrays["b"].dtype == np.float32
    bare = json_lines.parse(b"[1, 2, 3, 4]\n[5, 6, 7, 8]").arrays(VECTOR)
    assert bare["x"].shape == (2, 4)


def test_json_lines_refusals_name_the_line():
    with pytest.raises(InvalidInput, match="line 2 is not valid JSON"):
        json_lines.parse(b"[1,2,3,4]\n[1,2,\n")
    with pytest.raises(InvalidInput, match="no records"):
        json_lines.parse(b"\n\n")
    with pytest.raises(InvalidInput, match="rectangular"):
        json_lines.parse(b"[1,2,3,4]\n[1,2]").arrays(VECTOR)


def test_json_lines_answers_one_line_per_record():
    assert json_lines.dump({"y": np.array([[1.5], [2.5]], np.float32)}) == b"[1.5]\n[2.5]"
    assert json_lines.dump({"a": np.array([1, 2]), "b": np.array([3, 4])}) == b'{"a":1,"b":3}\n{"a":2,"b":4}'


def test_msgpack_numpy_bodies_decode_zero_copy_and_answers_decode_with_msgpack_numpy():
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 3), np.float32)
    body = msgpack.packb({"a": a, "b": b}, default=msgpack_numpy.encode)
    arrays = msgpack_arrays.parse(body).arrays(TWO)
    assert np.array_equal(arrays["a"], a) and np.array_equal(arrays["b"], b)
    answer = msgpack.unpackb(msgpack_arrays.dump({"y": a * 2}), object_hook=msgpack_numpy.decode)
    assert np.array_equal(answer["y"], a * 2) and answer["y"].dtype == np.float32


def test_msgpack_plain_lists_and_a_bare_array_for_single_input_models():
    arrays = msgpack_arrays.parse(msgpack.packb([[1, 2, 3, 4]])).arrays(VECTOR)
    assert arrays["x"].dtype == np.float32 and arrays["x"].tolist() == [[1, 2, 3, 4]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({b"nd": True, b"type": "|O", b"kind": b"O", b"shape": [1], b"data": b"\x80\x04N."}, "no pickles"),
        ({b"nd": True, b"type": "<f4", b"kind": b"", b"shape": [1000, 1000], b"data": b"\x00" * 8}, "needs 4000000 bytes"),
        ({b"nd": True, b"type": "<f4", b"kind": b"", b"shape": [10**9, 10**9], b"data": b""}, "too large"),
        ({b"nd": True, b"type": "not a dtype", b"kind": b"", b"shape": [1], b"data": b""}, "not a plain numpy dtype"),
    ],
)
def test_msgpack_arrays_that_lie_are_refused(value, message):
    body = msgpack.packb({"x": value}, use_bin_type=True)
    with pytest.raises(InvalidInput, match=message):
        msgpack_arrays.parse(body).arrays(VECTOR)


def test_msgpack_garbage_and_wrong_shapes_are_named():
    with pytest.raises(InvalidInput, match="not valid msgpack"):
        msgpack_arrays.parse(b"\xc1")
    with pytest.raises(InvalidInput, match="msgpack int"):
        msgpack_arrays.parse(msgpack.packb(5))


def nd(type_text: str, shape: list, data: bytes = b"") -> dict:
    return {b"nd": True, b"type": type_text, b"kind": b"", b"shape": shape, b"data": data}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(nd("<f4", [0, 2**62, 2**62]), "dimension 1 is 4611686018427387904", id="zero-size-huge-dims"),
        pytest.param(nd("<f4", [2**64 - 1, 0]), "dimension 0 is 18446744073709551615", id="zero-size-uint64-dim"),
        pytest.param(nd("<f4", [0, 2**28, 2**28, 2**28]), "dimensions other than 0", id="zero-size-dims-beyond-budget"),
        pytest.param(nd("<f4", [True, 4], b"\x00" * 16), "shape must be a list of non-negative integers", id="bool-dim"),
        pytest.param(nd("<U0", [10**12]), "'<U0'", id="zero-width-unicode"),
        pytest.param(nd("|S0", [10**12]), "'|S0'", id="zero-width-bytes"),
        pytest.param(nd("|V4", [2], b"\x00" * 8), "'|V4'", id="void"),
        pytest.param(nd("<M8[ns]", [2], b"\x00" * 16), "datetime64", id="datetime64"),
        pytest.param(nd("<m8[s]", [2], b"\x00" * 16), "timedelta64", id="timedelta64"),
        pytest.param(nd("<c8", [1], b"\x00" * 8), "complex64", id="complex"),
        pytest.param(nd("<f4", [1] * 33, b"\x00" * 4), "33 dimensions", id="rank-33"),
        pytest.param(nd("(2,3)f4", [1], b"\x00" * 24), "not a plain numpy dtype", id="subarray"),
        pytest.param(nd("U99999999999999999999", [1]), "not a plain numpy dtype", id="absurd-width"),
    ],
)
def test_msgpack_zero_size_tricks_and_non_numeric_dtypes_are_refused_naming_them(value, message):
    body = msgpack.packb({"x": value}, use_bin_type=True)
    with pytest.raises(InvalidInput, match=message):
        msgpack_arrays.parse(body).arrays(VECTOR)


def test_msgpack_zero_batch_arrays_still_decode():
    body = msgpack.packb({"x": np.zeros((0, 4), np.float32)}, default=msgpack_numpy.encode)
    assert msgpack_arrays.parse(body).arrays(VECTOR)["x"].shape == (0, 4)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("nan", "'nan' is not a finite number"),
        ("NaN", "'NaN' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("-Infinity", "'-Infinity' is not a finite number"),
        ("1e400", "'1e400' is not a finite number"),
        ("1_0", "'1_0' is not a number"),
        ('"nan"', "'nan' is not a finite number"),
    ],
)
def test_csv_refuses_what_json_refuses_naming_the_cell(cell, message):
    body = "1,2,3,4\n" * 5 + f"5,6,{cell},8\n"
    with pytest.raises(InvalidInput, match=f"CSV row 6 column 3: {message}"):
        csv_rows.records(body.encode(), VECTOR)


def test_csv_finite_numbers_in_every_spelling_still_parse():
    table = csv_rows.parse_rows(b'+1,.5,1.,-2E-3\n1e308,-0," 7 ",1\n')
    assert table.tolist() == [[1, 0.5, 1, -2e-3], [1e308, 0, 7, 1]]


def test_string_records_nested_deeper_than_32_levels_are_refused_in_json_lines_and_msgpack():
    strings = signature(("s", "string", None))
    deep: list = ["a"]
    for _ in range(999):
        deep = [deep]
    with pytest.raises(InvalidInput, match="more than 32 levels"):
        json_lines.parse(b"[" * 1000 + b'"a"' + b"]" * 1000).arrays(strings)
    with pytest.raises(InvalidInput, match="more than 32 levels"):
        msgpack_arrays.parse(msgpack.packb({"s": deep})).arrays(strings)
