"""TF Serving REST JSON codec (handler/codecs/tfs_json.py): request parsing, typing, response bodies."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from ovserve.handler.codecs.tfs_json import (
    COLUMN,
    ROW,
    encode_metadata,
    encode_predict,
    encode_status,
    parse_predict,
)
from ovserve.handler.errors import InvalidInput
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.status import VersionStatus
from ovserve.handler.tensors import BY_OV_NAME

OUT = TensorSpec("out", 0, BY_OV_NAME["f32"], (-1, 2))


def spec(name: str, dtype: str, shape=(-1, 2), index: int = 0) -> TensorSpec:
    return TensorSpec(name, index, BY_OV_NAME[dtype], shape)


def signature(*inputs: TensorSpec) -> Signature:
    return Signature(inputs=tuple(inputs), outputs=(OUT,))


def body(document) -> bytes:
    return json.dumps(document).encode()


def invalid(call, *args) -> str:
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value.message


def arrays(document, sig: Signature) -> dict[str, np.ndarray]:
    return parse_predict(body(document)).arrays(sig)


def arrays_error(document, sig: Signature) -> str:
    return invalid(arrays, document, sig)


# --- parse_predict: accepted forms ------------------------------------------------------------


def test_row_named():
    request = parse_predict(body({"instances": [{"a": [1, 2], "b": "x"}, {"a": [3, 4], "b": "y"}]}))
    assert request.form == ROW
    assert request.named == {"a": [[1, 2], [3, 4]], "b": ["x", "y"]}


def test_row_simplified():
    request = parse_predict(body({"instances": [[1, 2], [3, 4]]}))
    assert (request.form, request.named, request.unnamed) == (ROW, None, [[1, 2], [3, 4]])


def test_column_named():
    request = parse_predict(body({"inputs": {"a": [[1, 2]], "b": [3]}}))
    assert (request.form, request.named) == (COLUMN, {"a": [[1, 2]], "b": [3]})


def test_column_simplified():
    request = parse_predict(body({"inputs": [[1, 2]], "signature_name": "serving_default"}))
    assert (request.form, request.named, request.unnamed) == (COLUMN, None, [[1, 2]])


def test_b64_values_are_values_not_names():
    column = parse_predict(body({"inputs": {"b64": "aGk="}}))
    assert (column.named, column.unnamed) == (None, {"b64": "aGk="})
    rows = parse_predict(body({"instances": [{"b64": "aGk="}, {"b64": "aG8="}]}))
    assert (rows.named, rows.unnamed) == (None, [{"b64": "aGk="}, {"b64": "aG8="}])
    named = parse_predict(body({"instances": [{"img": {"b64": "aGk="}}]}))
    assert named.named == {"img": [{"b64": "aGk="}]}


# --- parse_predict: errors --------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \n"])
def test_empty_body(raw):
    message = invalid(parse_predict, raw)
    assert message.startswith("request body is empty;")
    assert '"instances"' in message and '"inputs"' in message


@pytest.mark.parametrize(("raw", "kind"), [(b"[]", "list"), (b"3", "int")])
def test_body_that_is_not_an_object(raw, kind):
    assert invalid(parse_predict, raw).startswith(f"request body is a JSON {kind}; expected a JSON object")


def test_malformed_json():
    message = invalid(parse_predict, b'{"inputs": [1, 2')
    assert message.startswith("request body is not valid JSON (")
    assert "NaN" not in message


@pytest.mark.parametrize("raw", [b'{"inputs": [NaN, 1]}', b'{"inputs": [Infinity]}', b'{"inputs": [-Infinity]}'])
def test_nan_and_infinity_literals(raw):
    message = invalid(parse_predict, raw)
    assert message.startswith("request body is not valid JSON")
    assert "NaN and Infinity are not JSON numbers" in message


@pytest.mark.parametrize("document", [{"inputs": [1], "instances": [1]}, {}, {"signature_name": "serving_default"}])
def test_exactly_one_of_inputs_and_instances(document):
    assert 'give exactly one of "instances" or "inputs"' in invalid(parse_predict, body(document))


@pytest.mark.parametrize("instances", [[], {}, "x", None])
def test_instances_must_be_a_non_empty_list(instances):
    assert invalid(parse_predict, body({"instances": instances})) == (
        'Invalid inputs in request body: "instances" must be a non-empty list'
    )


def test_instances_with_differing_keys():
    message = invalid(parse_predict, body({"instances": [{"a": 1, "b": 2}, {"a": 3}]}))
    assert message == (
        "Invalid inputs in request body: instance 1 has keys ['a'], expected the same keys as instance 0: ['a', 'b']"
    )


@pytest.mark.parametrize("instances", [[{"a": 1}, 2], [[1], {"a": 2}], [{"b64": "aGk="}, {"a": 1}]])
def test_instances_mixing_named_and_bare(instances):
    assert "mixes named objects and bare values" in invalid(parse_predict, body({"instances": instances}))


def test_empty_instance_object_and_empty_inputs_object():
    assert "an instance is an empty object" in invalid(parse_predict, body({"instances": [{}]}))
    assert '"inputs" is an empty object' in invalid(parse_predict, body({"inputs": {}}))


def test_unknown_top_level_key():
    message = invalid(parse_predict, body({"inputs": [1], "extra": 1}))
    assert message.startswith("Invalid inputs in request body: unknown key 'extra';")


def test_signature_name_must_be_a_string():
    assert invalid(parse_predict, body({"inputs": [1], "signature_name": 3})) == '"signature_name" must be a string'


# --- arrays(): typing against a signature -----------------------------------------------------

F32 = signature(spec("x", "f32"))
I64 = signature(spec("x", "i64"))
U8 = signature(spec("x", "u8"))
BOOL = signature(spec("x", "boolean"))
TEXT = signature(spec("x", "string", (-1,)))
TWO = signature(spec("a", "f32"), spec("b", "i64", index=1))


def test_f32_from_ints_and_floats():
    (array,) = arrays({"inputs": [[1, 2], [3, 4.5]]}, F32).values()
    assert array.dtype == np.float32
    assert array.tolist() == [[1.0, 2.0], [3.0, 4.5]]


def test_i64_u8_and_boolean_arrays():
    i64 = arrays({"inputs": [[1, 2.0]]}, I64)["x"]
    assert (i64.dtype, i64.tolist()) == (np.int64, [[1, 2]])
    u8 = arrays({"instances": [[0, 255]]}, U8)["x"]
    assert (u8.dtype, u8.tolist()) == (np.uint8, [[0, 255]])
    flags = arrays({"inputs": [[True, False], [1, 0]]}, BOOL)["x"]
    assert (flags.dtype, flags.tolist()) == (np.bool_, [[True, False], [True, False]])


def test_row_named_arrays_for_two_inputs():
    result = arrays({"instances": [{"a": [1, 2], "b": [3, 4]}, {"a": [5, 6], "b": [7, 8]}]}, TWO)
    assert (result["a"].dtype, result["a"].tolist()) == (np.float32, [[1.0, 2.0], [5.0, 6.0]])
    assert (result["b"].dtype, result["b"].tolist()) == (np.int64, [[3, 4], [7, 8]])


@pytest.mark.parametrize("value", [[[1, 2], [3]], [[1, 2], 3]])
def test_ragged_numbers(value):
    assert arrays_error({"inputs": value}, F32).startswith("input 'x' is not a rectangular array of numbers")


def test_nulls_in_numbers():
    assert arrays_error({"inputs": [[1, None]]}, F32).startswith("input 'x' must be a rectangular array of numbers")


def test_numeric_strings_into_float_input():
    message = arrays_error({"inputs": [["1", "2"]]}, F32)
    assert message == (
        "Invalid data type for input 'x'. Obtained strings, required DT_FLOAT (f32): numbers expected, strings are not converted"
    )


def test_fractions_into_int_input():
    message = arrays_error({"inputs": [[1, 2.5]]}, I64)
    assert message.startswith("Invalid data type for input 'x'. Obtained DT_DOUBLE (f64), required DT_INT64 (i64)")
    assert "fractional" in message


@pytest.mark.parametrize("value", [[[0, 256]], [[-1, 2]]])
def test_ints_out_of_u8_range(value):
    assert arrays_error({"inputs": value}, U8).endswith("required DT_UINT8 (u8): values outside [0, 255]")


def test_booleans_into_float_input():
    assert "booleans are not converted to numbers" in arrays_error({"inputs": [[True, False]]}, F32)


def test_booleans_mixed_with_numbers_into_float_input():
    assert "booleans are not converted to numbers" in arrays_error({"inputs": [[1, True]]}, F32)


def test_ints_other_than_0_1_into_boolean_input():
    assert "only true/false (or 0/1) fit a boolean input" in arrays_error({"inputs": [[1, 2]]}, BOOL)


@pytest.mark.parametrize("document", [{"inputs": {"b64": "aGk="}}, {"instances": [{"b64": "aGk="}]}, {"inputs": [[{"b64": "aGk="}]]}])
def test_b64_into_numeric_input(document):
    assert arrays_error(document, F32) == (
        "input 'x': \"b64\" values are only accepted for string inputs; this input takes f32 numbers"
    )


def test_strings_and_b64_into_string_input_come_back_as_bytes():
    raw = b"\x00\xff binary"
    encoded = base64.b64encode(raw).decode()
    array = arrays({"inputs": ["text", {"b64": encoded}, "caf\u00e9"]}, TEXT)["x"]
    assert array.dtype == object
    assert array.tolist() == [b"text", raw, "caf\u00e9".encode()]


def test_b64_rows_into_string_input():
    array = arrays({"instances": [{"b64": "aGk="}, {"b64": "aG8="}]}, TEXT)["x"]
    assert array.tolist() == [b"hi", b"ho"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", 1], "input 'x' takes strings; got a JSON int"),
        ([{"b64": "!!not base64"}], "input 'x': a \"b64\" value is not valid base64"),
        ([{"b64": 5}], "input 'x': a \"b64\" value must be a base64 string"),
        ([["a"], "b"], "input 'x' is not a rectangular array of strings"),
    ],
)
def test_bad_string_input_values(value, expected):
    assert arrays_error({"inputs": value}, TEXT) == expected


@pytest.mark.parametrize("document", [{"inputs": [[1, 2]]}, {"instances": [[1, 2]]}])
def test_simplified_form_against_two_inputs(document):
    message = arrays_error(document, TWO)
    assert message.startswith("the request gives one unnamed input but the model has inputs ['a', 'b']")


def test_unknown_input_name_lists_expected_names():
    assert arrays_error({"inputs": {"a": [[1, 2]], "b": [[1, 2]], "c": [1]}}, TWO) == (
        "input tensor alias not found in signature: ['c']. Inputs expected to be in the set ['a', 'b']"
    )


def test_missing_input_name_lists_expected_names():
    assert arrays_error({"instances": [{"a": [1, 2]}]}, TWO) == (
        "missing input tensors: ['b']. The model expects all of ['a', 'b']"
    )


# --- encode_predict ---------------------------------------------------------------------------

SCORES = np.array([[1.5, 2.0], [3.0, 4.0]], dtype=np.float32)
LABELS = np.array([7, 8], dtype=np.int64)


def decoded(outputs, form):
    return json.loads(encode_predict(outputs, form))


def test_column_one_output_is_a_bare_array():
    assert decoded({"scores": SCORES}, COLUMN) == {"outputs": [[1.5, 2.0], [3.0, 4.0]]}


def test_column_several_outputs_are_named():
    assert decoded({"scores": SCORES, "labels": LABELS}, COLUMN) == {
        "outputs": {"scores": [[1.5, 2.0], [3.0, 4.0]], "labels": [7, 8]}
    }


def test_row_one_output_is_a_bare_array():
    assert decoded({"scores": SCORES}, ROW) == {"predictions": [[1.5, 2.0], [3.0, 4.0]]}


def test_row_several_outputs_are_split_into_instances():
    assert decoded({"scores": SCORES, "labels": LABELS}, ROW) == {
        "predictions": [{"scores": [1.5, 2.0], "labels": 7}, {"scores": [3.0, 4.0], "labels": 8}]
    }


def test_non_contiguous_output_is_written_in_logical_order():
    assert decoded({"scores": SCORES.T}, COLUMN) == {"outputs": [[1.5, 3.0], [2.0, 4.0]]}


def test_string_outputs_as_text_or_b64():
    strings = np.array([b"hi", b"\xff"], dtype=object)
    assert decoded({"s": strings}, ROW) == {"predictions": ["hi", {"b64": "/w=="}]}


@pytest.mark.parametrize("other", [np.zeros(3, dtype=np.float32), np.array(1.0, dtype=np.float32)])
def test_row_with_mismatched_batch_is_an_error(other):
    message = invalid(encode_predict, {"scores": SCORES, "other": other}, ROW)
    assert "do not share a batch dimension" in message
    assert 'columnar format ("inputs")' in message


def test_column_with_mismatched_batch_is_fine():
    assert decoded({"scores": SCORES, "other": np.zeros(3, dtype=np.float32)}, COLUMN)["outputs"]["other"] == [0.0, 0.0, 0.0]


# --- metadata and status ----------------------------------------------------------------------


def test_encode_metadata_structure():
    sig = Signature(
        inputs=(spec("image", "f32", (1, 3, (200, 300), -1)), spec("text", "string", None, index=1)),
        outputs=(spec("scores", "i64", (-1, 10)),),
    )
    document = json.loads(encode_metadata("resnet", 3, sig))
    assert document["modelSpec"] == {"name": "resnet", "signatureName": "", "version": "3"}
    signature_def = document["metadata"]["signature_def"]
    assert signature_def["@type"] == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    serving = signature_def["signatureDef"]["serving_default"]
    assert serving["methodName"] == "tensorflow/serving/predict"
    image = serving["inputs"]["image"]
    assert image["dtype"] == "DT_FLOAT"
    assert image["name"] == "image"
    assert [d["size"] for d in image["tensorShape"]["dim"]] == ["1", "3", "-1", "-1"]
    assert image["tensorShape"]["unknownRank"] is False
    text = serving["inputs"]["text"]
    assert (text["dtype"], text["tensorShape"]) == ("DT_STRING", {"dim": [], "unknownRank": True})
    scores = serving["outputs"]["scores"]
    assert scores["dtype"] == "DT_INT64"
    assert [d["size"] for d in scores["tensorShape"]["dim"]] == ["-1", "10"]


def test_encode_status_rows():
    document = json.loads(
        encode_status([VersionStatus(2, "AVAILABLE", "OK", ""), VersionStatus(1, "END", "UNKNOWN", "load failed")])
    )
    assert document == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
            {"version": "1", "state": "END", "status": {"error_code": "UNKNOWN", "error_message": "load failed"}},
        ]
    }


def test_encode_status_empty():
    assert json.loads(encode_status([])) == {"model_version_status": []}


@pytest.mark.parametrize("name", ["serving_default", ""])
def test_the_default_signature_name_is_accepted(name):
    request = parse_predict(body({"inputs": [[1, 2]], "signature_name": name}))
    assert request.arrays(signature(spec("x", "f32")))["x"].tolist() == [[1, 2]]


@pytest.mark.parametrize("name", ["predict", "Serving_Default", " serving_default", "x" * 5000])
def test_any_other_signature_name_is_refused_naming_the_one_served(name):
    message = invalid(parse_predict, body({"instances": [[1, 2]], "signature_name": name}))
    assert '"serving_default"' in message and name[:40] in message and len(message) < 500


@pytest.mark.parametrize("padding", [0, 70_000], ids=["small", "large"])
def test_json_nested_beyond_1024_levels_is_invalid_json_at_any_size(padding):
    raw = b'{"instances": ' + b"[" * 1100 + b"]" * 1100 + b"}"
    message = invalid(parse_predict, raw + b" " * padding)
    assert message.startswith("request body is not valid JSON (") and "depth" in message


@pytest.mark.parametrize("padding", [0, 70_000], ids=["small", "large"])
@pytest.mark.parametrize("leaf", [b'"a"', b'{"b64": "YQ=="}'])
@pytest.mark.parametrize("depth", [33, 1000])
def test_string_values_nested_deeper_than_32_levels_are_refused(depth, leaf, padding):
    raw = b'{"inputs": ' + b"[" * depth + leaf + b"]" * depth + b"}" + b" " * padding
    message = invalid(parse_predict(raw).arrays, signature(spec("s", "string", None)))
    assert "'s'" in message and "32" in message


def test_numbers_nested_deeper_than_32_levels_are_refused():
    raw = b'{"inputs": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}"
    message = invalid(parse_predict(raw).arrays, signature(spec("x", "f32", None)))
    assert "'x'" in message and "32" in message
