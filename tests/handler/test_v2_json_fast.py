"""KServe v2 JSON: large bodies parse their numeric ``data`` in C (json_numbers); answers and errors equal the strict path.

Every case runs twice on the same bytes: once with the fast path forced
(``LARGE_BODY`` = 0) and once with it disabled, and the outcomes (array
dtype, shape and exact bits, or the 400's message) must be identical.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from ovserve.handler.codecs import json_numbers, v2_json
from ovserve.handler.errors import InvalidInput
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME

OV_TYPES = {"BOOL": "boolean", "UINT8": "u8", "UINT16": "u16", "UINT32": "u32", "UINT64": "u64", "INT8": "i8",
            "INT16": "i16", "INT32": "i32", "INT64": "i64", "FP16": "f16", "FP32": "f32", "FP64": "f64",
            "BF16": "f32", "BYTES": "string"}


def body_of(datatype: str, shape: list[int], data: str) -> bytes:
    """The request with ``data`` spelled exactly as given (the JSON text is the point of these tests)."""
    return (f'{{"inputs":[{{"name":"x","shape":{orjson.dumps(shape).decode()},"datatype":"{datatype}",'
            f'"data":{data}}}]}}').encode()


def outcome(body: bytes, ov_type: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """("ok", dtype, shape, bytes) or ("error", message), with the fast path forced on or off."""
    monkeypatch.setattr(json_numbers, "LARGE_BODY", 0 if fast else 1 << 62)
    signature = Signature((TensorSpec("x", 0, BY_OV_NAME[ov_type], None),), (TensorSpec("y", 0, BY_OV_NAME["f32"], None),))
    try:
        request = v2_json.parse_request(body)
        array = v2_json.V2Arrays(request, {})(signature)["x"]
    except InvalidInput as exc:
        return ("error", exc.message)
    if array.dtype.kind in "SO":
        return ("ok", array.dtype.kind, array.shape, array.tolist())
    return ("ok", array.dtype.str, array.shape, array.tobytes())


def same(body: bytes, ov_type: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    slow = outcome(body, ov_type, False, monkeypatch)
    fast = outcome(body, ov_type, True, monkeypatch)
    assert fast == slow
    return fast


CASES = [
    # datatype, shape, data text, model type (None: the datatype's own)
    ("BOOL", [2], "[true, false]", None),
    ("BOOL", [2], "[1, 0]", None),
    ("BOOL", [2], "[1, 2]", None),
    ("BOOL", [2], "[true, 2]", "i32"),  # numpy makes [True, 2] integers: accepted today, so still
    ("UINT8", [3], "[0, 255, 7]", None),
    ("UINT8", [1], "[256]", None),
    ("UINT8", [1], "[-1]", None),
    ("UINT16", [2], "[0, 65535]", None),
    ("UINT32", [2], "[0, 4294967295]", None),
    ("UINT64", [2], "[0, 18446744073709551615]", None),
    ("UINT64", [2], "[9223372036854775808, 18446744073709551615]", None),
    ("UINT64", [1], "[18446744073709551616]", None),  # beyond 64 bits: orjson makes it a float
    ("INT8", [2], "[-128, 127]", None),
    ("INT8", [1], "[128]", None),
    ("INT16", [2], "[-32768, 32767]", None),
    ("INT32", [2], "[-2147483648, 2147483647]", None),
    ("INT32", [2], "[1.5, 2]", None),  # a fraction for an integer input fails
    ("INT32", [2], "[1.0, 2e0]", None),  # integral floats convert
    ("INT32", [1], "[1e10]", None),
    ("INT64", [2], "[9223372036854775807, -9223372036854775808]", None),
    ("INT64", [1], "[-9223372036854775809]", None),
    ("INT64", [2], "[-1, 9223372036854775808]", None),  # numpy: float64
    ("INT64", [2], "[1, 9223372036854775808]", None),
    ("FP16", [3], "[0.1, 65504, -2]", None),
    ("FP16", [1], "[70000.0]", None),
    ("FP32", [4], "[1, 2, 3, 4]", None),  # integers for a float input
    ("FP32", [4], "[-0.0, 0.0, -0, 0]", None),
    ("FP32", [3], "[1e38, -1e38, 3.4028234663852886e38]", None),
    ("FP32", [1], "[1e39]", None),
    ("FP32", [6], "[1E5, 1e-5, 2.5e+3, 2.5E-3, 1e-46, 0.1]", None),
    ("FP32", [2], "[1, 2.5]", None),
    ("FP32", [1], "[4.9e-324]", None),
    ("FP32", [2], "[16777217, 1e0]", None),
    ("FP64", [3], "[0.1, 2.2250738585072011e-308, 1.7976931348623157e308]", None),
    ("FP64", [2], "[123456789012345678901234567890, 0.5]", None),
    ("FP64", [2], "[9007199254740993, 0.5]", None),  # an integer that rounds as a double
    ("BF16", [2], "[1.5, -2]", None),
    ("BYTES", [2], '["a", "\\u00e9"]', None),
    ("BYTES", [2], "[1, 2]", None),
    ("BYTES", [2, 1], '[["a"], ["b"]]', None),
    ("FP32", [2], '["1", 2]', None),
    ("FP32", [2], "[null, 2]", None),
    ("FP32", [2], "[true, 2.5]", None),
    ("FP32", [2], '[{"a": 1}, 2]', None),
    ("FP32", [2, 2], "[[1, 2], [3, 4]]", None),  # nested
    ("FP32", [4], "[[1, 2], [3, 4]]", None),  # nested data, flat shape
    ("FP32", [2, 2], "[1, 2, 3, 4]", None),  # flat data, nested shape
    ("FP32", [4], "[[1, 2], [3, [4]]]", None),  # ragged: flattened as today
    ("FP32", [2], "[[1, 2], []]", None),
    ("FP32", [1], "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0.5]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                   "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", None),  # deeper than numpy's 64 dimensions
    ("FP32", [3], "[1, 2]", None),  # count differs
    ("FP32", [2, 2], "[[1, 2], [3]]", None),
    ("FP32", [0], "[]", None),
    ("BOOL", [0], "[]", None),  # numpy types an empty list float64: refused for BOOL today, still
    ("FP32", [1, 0], "[[]]", None),
    ("FP32", [1], "5", None),  # a bare number
    ("INT32", [1], "[5]", "f32"),  # declared INT32, model FP32: converted as today
    ("FP32", [1], "[5.5]", "i32"),  # declared FP32, model INT32: refused as today
]


@pytest.mark.parametrize(("datatype", "shape", "data", "ov_type"), CASES)
def test_fast_and_strict_paths_agree(datatype, shape, data, ov_type, monkeypatch) -> None:
    same(body_of(datatype, shape, data), ov_type or OV_TYPES[datatype], monkeypatch)


def test_the_cases_cover_successes_and_failures(monkeypatch) -> None:
    kinds = {same(body_of(d, s, text, ), t or OV_TYPES[d], monkeypatch)[0] for d, s, text, t in CASES}
    assert kinds == {"ok", "error"}
    assert same(body_of("FP32", [4], "[-0.0, 0.0, -0, 0]"), "f32", monkeypatch)[3] == np.array(
        [-0.0, 0, 0, 0], np.float32).tobytes()


@pytest.mark.parametrize("datatype", sorted(set(OV_TYPES) - {"BYTES", "BOOL"}))
def test_random_numbers_of_every_numeric_type(datatype, monkeypatch) -> None:
    ov_type = OV_TYPES[datatype]
    dtype = BY_OV_NAME[ov_type].numpy
    rng = np.random.default_rng(len(datatype))
    if dtype.kind == "f":
        values = rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500)
        values = values.astype(dtype) if dtype != np.float16 else rng.standard_normal(500).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, 500, dtype=dtype, endpoint=True)
    body = body_of(datatype, [500], orjson.dumps(values.tolist()).decode())
    result = same(body, ov_type, monkeypatch)
    assert result[0] == "ok"


MALFORMED = [
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[NaN]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[Infinity]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[-Infinity]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e400]}]}',
    b'\xef\xbb\xbf{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1,]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[01]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]} x',
    b'{"inputs":[{"name":"x\xff","shape":[1],"datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["\\ud800"]}]}',
    b'[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]',
    b'"inputs"',
    b'{"inputs":{"x":[1]}}',
    b'{"inputs":[]}',
    b'{"inputs":[7]}',
    b'{"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP33","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"data":[2, 3]}]}',  # the last "data" counts
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"inputs":[{"name":"x","shape":[2],'
    b'"datatype":"FP32","data":[1, 2]}]}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"id":7}',
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":{"name":"y"}}',
    b'{"inputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[1]}]}',  # not an input of the model
    b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":' + b"[" * 1100 + b"1" + b"]" * 1100 + b"}]}",
]


def test_data_nested_as_deep_as_json_allows_flattens_on_both_paths(monkeypatch) -> None:
    deep = b'{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":' + b"[" * 1000 + b"1,[2]" + b"]" * 1000 + b"}]}"
    assert same(deep, "f32", monkeypatch)[3] == np.array([1, 2], np.float32).tobytes()


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_bodies_give_the_same_400(body, monkeypatch) -> None:
    result = same(body, "f32", monkeypatch)
    assert result[0] == "error" or b'"data":[1],"data"' in body or b'],"inputs"' in body


def test_a_real_resnet_sized_body_takes_the_fast_path() -> None:
    image = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    signature = Signature((TensorSpec("x", 0, BY_OV_NAME["f32"], (1, 3, 224, 224)),), ())
    for data in (image.reshape(-1), image):
        body = orjson.dumps({"inputs": [{"name": "x", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": data}]},
                            option=orjson.OPT_SERIALIZE_NUMPY)
        assert len(body) >= json_numbers.LARGE_BODY
        request = v2_json.parse_request(body)
        assert isinstance(request.inputs[0].data, np.ndarray), "the fast path was not taken"
        array = v2_json.V2Arrays(request, {})(signature)["x"]
        assert array.dtype == np.float32 and np.array_equal(array, image)


def test_large_bytes_and_boolean_bodies_keep_the_strict_path() -> None:
    words = [f"w{i}" for i in range(20000)]
    request = v2_json.parse_request(orjson.dumps({"inputs": [
        {"name": "s", "shape": [len(words)], "datatype": "BYTES", "data": words},
        {"name": "b", "shape": [20000], "datatype": "BOOL", "data": [True, False] * 10000}]}))
    assert request.inputs[0].data == words and request.inputs[1].data == [True, False] * 10000


def test_a_memoryview_header_parses_too(monkeypatch) -> None:
    body = body_of("FP32", [2], "[1.5, 2]")
    monkeypatch.setattr(json_numbers, "LARGE_BODY", 0)
    array = v2_json.parse_request(memoryview(body)).inputs[0].data
    assert isinstance(array, np.ndarray) and array.tolist() == [1.5, 2.0]
