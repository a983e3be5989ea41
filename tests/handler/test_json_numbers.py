"""Large JSON bodies take the pysimdjson path; answers and errors must equal the strict (orjson) path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ovserve.handler.codecs import json_numbers, tfs_json
from ovserve.handler.errors import InvalidInput
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME

ROWS = 3000  # 3000 x 4 numbers: well over LARGE_BODY


def signature(ov_type: str, shape) -> Signature:
    spec = TensorSpec("x", 0, BY_OV_NAME[ov_type], shape)
    return Signature((spec,), (TensorSpec("y", 0, BY_OV_NAME["f32"], None),))


def decode(document: dict, ov_type: str = "f32", shape=(-1, 4)) -> dict:
    body = json.dumps(document).encode()
    assert len(body) >= json_numbers.LARGE_BODY
    parsed = tfs_json.parse_predict(body)
    assert parsed.keepalive is not None, "the large-body path was not taken"
    return parsed.arrays(signature(ov_type, shape))


def error_of(document: dict, ov_type: str = "f32", shape=(-1, 4)) -> str:
    with pytest.raises(InvalidInput) as caught:
        decode(document, ov_type, shape)
    return caught.value.message


def strict_error_of(document: dict, ov_type: str = "f32", shape=(-1, 4)) -> str:
    """The same request through the small-body path, for comparing messages."""
    parsed = tfs_json.JsonPredictRequest(tfs_json.COLUMN, dict(document["inputs"]))
    with pytest.raises(InvalidInput) as caught:
        parsed.arrays(signature(ov_type, shape))
    return caught.value.message


def big(value=0.5) -> list:
    return [[value, 1.25, -3.0, 1e-3] for _ in range(ROWS)]


def test_large_float_body_decodes_to_the_same_array():
    data = np.random.default_rng(0).random((ROWS, 4)).astype(np.float32)
    arrays = decode({"inputs": {"x": data.tolist()}})
    assert arrays["x"].dtype == np.float32
    np.testing.assert_array_equal(arrays["x"], data)


def test_simplified_large_body_and_integers():
    arrays = decode({"inputs": [[1000, 2000, 3000, 4000]] * ROWS}, "i64")
    assert arrays["x"].dtype == np.int64 and arrays["x"].shape == (ROWS, 4)
    assert arrays["x"][0].tolist() == [1000, 2000, 3000, 4000]


@pytest.mark.parametrize(
    ("patch", "ov_type"),
    [
        (lambda rows: rows.__setitem__(7, [1, 2]), "f32"),  # ragged
        (lambda rows: rows.__setitem__(7, [1, 2, 3, [4]]), "f32"),  # one element nests deeper
        (lambda rows: rows.__setitem__(7, [1, True, 3, 4]), "f32"),  # a boolean among numbers
        (lambda rows: rows.__setitem__(7, [1, "2", 3, 4]), "f32"),  # a numeric string
        (lambda rows: rows.__setitem__(7, [1, None, 3, 4]), "f32"),  # null
        (lambda rows: rows.__setitem__(7, [1.5, 2, 3, 4]), "i64"),  # a fraction for an integer input
        (lambda rows: rows.__setitem__(7, [300, 2, 3, 4]), "u8"),  # out of range
    ],
)
def test_bad_large_bodies_fail_exactly_like_small_ones(patch, ov_type):
    rows = big(1.0) if ov_type != "f32" else big()
    patch(rows)
    document = {"inputs": {"x": rows}}
    assert error_of(document, ov_type) == strict_error_of(document, ov_type)


def test_large_invalid_json_and_nan():
    body = b'{"inputs": [' + b"1.0," * 30000 + b"NaN]}"
    with pytest.raises(InvalidInput, match="NaN and Infinity"):
        tfs_json.parse_predict(body)
    with pytest.raises(InvalidInput, match="not valid JSON"):
        tfs_json.parse_predict(b"\xff" * 100_000)


def test_large_row_forms_decode_like_column_forms():
    data = np.random.default_rng(1).random((ROWS, 4)).astype(np.float32)
    named = decode({"instances": [{"x": row} for row in data.tolist()]})
    bare = decode({"instances": data.tolist()})
    np.testing.assert_array_equal(named["x"], data)
    np.testing.assert_array_equal(bare["x"], data)


def test_large_named_rows_with_a_ragged_instance_fail_like_small_ones():
    rows = [{"x": [0.5, 1.0]} for _ in range(ROWS * 2)]
    rows[5] = {"x": [0.5]}
    document = {"instances": rows}
    body = json.dumps(document).encode()
    parsed = tfs_json.parse_predict(body)
    with pytest.raises(InvalidInput) as caught:
        parsed.arrays(signature("f32", (-1, 2)))
    strict = tfs_json.JsonPredictRequest(tfs_json.ROW, {"x": [row["x"] for row in rows]})
    with pytest.raises(InvalidInput) as expected:
        strict.arrays(signature("f32", (-1, 2)))
    assert caught.value.message == expected.value.message


def test_large_named_rows_mixing_arrays_and_scalars_fail_like_small_ones():
    rows = [{"x": [0.5, 1.0]} for _ in range(ROWS * 2)]
    rows[3] = {"x": 7.0}
    body = json.dumps({"instances": rows}).encode()
    with pytest.raises(InvalidInput) as caught:
        tfs_json.parse_predict(body).arrays(signature("f32", (-1, 2)))
    strict = tfs_json.JsonPredictRequest(tfs_json.ROW, {"x": [row["x"] for row in rows]})
    with pytest.raises(InvalidInput) as expected:
        strict.arrays(signature("f32", (-1, 2)))
    assert caught.value.message == expected.value.message


def test_nesting_beyond_the_parsers_depth_limit_is_a_json_error():
    body = b'{"instances": ' + b"[" * 1100 + b"]" * 1100 + b"}"
    with pytest.raises(json_numbers.JsonError, match="depth limit exceeded"):
        json_numbers.load(body + b" " * json_numbers.LARGE_BODY)
