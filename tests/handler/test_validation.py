"""Request checks against a signature (handler/validation.py): type conversion, shapes, names."""

from __future__ import annotations

import numpy as np
import pytest

from ovserve.handler.errors import InvalidInput
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME
from ovserve.handler.validation import check_names, convert, shape_mismatch


def spec(dtype: str = "f32", shape=(-1,), name: str = "x") -> TensorSpec:
    return TensorSpec(name, 0, BY_OV_NAME[dtype], shape)


def rejected(target: str, array: np.ndarray, rounding_allowed: bool = False) -> str:
    with pytest.raises(InvalidInput) as caught:
        convert(spec(target), array, rounding_allowed=rounding_allowed)
    return caught.value.message


# --- convert ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "array"),
    [
        ("f32", np.array([1.5, -2.0], dtype=np.float32)),
        ("i64", np.array([2**40], dtype=np.int64)),
        ("boolean", np.array([True, False])),
        ("string", np.array(["a", "b"])),
        ("string", np.array([b"a", b"\xff"])),
    ],
)
def test_same_type_passes_through_without_copy(target, array):
    assert convert(spec(target), array) is array


def test_bytes_objects_into_string_input_keep_every_byte():
    values = [b"text", b"\xff\x00binary", b"inner\x00nul"]
    converted = convert(spec("string"), np.array(values, dtype=object))
    assert converted.tolist() == values


def test_trailing_zero_byte_in_a_string_is_refused_rather_than_dropped():
    message = rejected("string", np.array([b"ends in nul\x00"], dtype=object))
    assert "ends in a zero byte" in message


def test_int32_into_f32_with_exact_values():
    converted = convert(spec("f32"), np.array([1, -7, 2**24], dtype=np.int32))
    assert converted.dtype == np.float32
    assert converted.tolist() == [1.0, -7.0, 16777216.0]


def test_int64_not_exactly_representable_in_f32_is_rejected():
    message = rejected("f32", np.array([2**24 + 1], dtype=np.int64))
    assert message == (
        "Invalid data type for input 'x'. Obtained DT_INT64 (i64), required DT_FLOAT (f32): converting would change values"
    )


def test_float64_into_f32_rounds_only_when_rounding_is_allowed():
    converted = convert(spec("f32"), np.array([0.1, 2.5]), rounding_allowed=True)
    assert converted.dtype == np.float32
    assert converted.tolist() == [np.float32(0.1), 2.5]
    assert "converting would change values" in rejected("f32", np.array([0.1]))
    assert convert(spec("f32"), np.array([0.5, -3.0])).tolist() == [0.5, -3.0]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_out_of_f32_range_is_rejected_even_when_rounding_is_allowed():
    message = rejected("f32", np.array([1.0, 1e300]), rounding_allowed=True)
    assert message == (
        "Invalid data type for input 'x'. Obtained DT_DOUBLE (f64), required DT_FLOAT (f32): a value is out of the range of f32"
    )


def test_float64_non_finite_values_stay_non_finite():
    converted = convert(spec("f32"), np.array([np.inf, -np.inf]), rounding_allowed=True)
    assert converted.tolist() == [np.inf, -np.inf]


def test_boolean_target_accepts_0_and_1():
    converted = convert(spec("boolean"), np.array([0, 1, 1], dtype=np.int64))
    assert (converted.dtype, converted.tolist()) == (np.bool_, [False, True, True])


@pytest.mark.parametrize("array", [np.array([0, 2]), np.array([1.0, 0.0]), np.array([-1])])
def test_boolean_target_rejects_other_values(array):
    assert rejected("boolean", array).endswith("required DT_BOOL (boolean): only true/false (or 0/1) fit a boolean input")


@pytest.mark.parametrize("target", ["f32", "i32", "u8"])
def test_booleans_into_numbers_are_rejected(target):
    message = rejected(target, np.array([True, False]))
    assert message.startswith("Invalid data type for input 'x'. Obtained DT_BOOL (boolean), required ")
    assert message.endswith("booleans are not converted to numbers")


@pytest.mark.parametrize(
    ("array", "described"),
    [(np.array(["1", "2"]), "strings"), (np.array([b"1"]), "strings"), (np.array([b"1"], dtype=object), "values of type object")],
)
def test_strings_into_numbers_are_rejected(array, described):
    message = rejected("f32", array, rounding_allowed=True)
    assert message == (
        f"Invalid data type for input 'x'. Obtained {described}, required DT_FLOAT (f32): numbers expected, strings are not converted"
    )


def test_numbers_into_string_input_are_rejected():
    assert rejected("string", np.array([1, 2])).startswith("Invalid data type for input 'x'. Obtained DT_INT64 (i64), required DT_STRING")


def test_integer_target_range_and_fractions():
    assert convert(spec("i32"), np.array([2.0, -3.0])).tolist() == [2, -3]
    assert rejected("i32", np.array([2**31], dtype=np.int64)).endswith("values outside [-2147483648, 2147483647]")
    assert rejected("u8", np.array([256])).endswith("values outside [0, 255]")
    assert "fractional or non-finite" in rejected("i64", np.array([1.5]), rounding_allowed=True)
    assert "fractional or non-finite" in rejected("i64", np.array([np.nan]), rounding_allowed=True)


def test_empty_array_converts():
    converted = convert(spec("u8"), np.array([], dtype=np.int64))
    assert (converted.dtype, converted.shape) == (np.uint8, (0,))


@pytest.mark.parametrize(("target", "value"), [("i64", 2.0**63), ("u64", 2.0**64)])
def test_float_just_beyond_the_integer_range_is_rejected(target, value):
    # 2**63 is one past int64's maximum; the cast would wrap it to a different number.
    assert "values outside" in rejected(target, np.array([value]), rounding_allowed=True)


# --- shape_mismatch ---------------------------------------------------------------------------


IMAGE = spec("f32", (1, 3, 224, 224), name="image")


def test_fitting_shape_has_no_problem():
    assert shape_mismatch(IMAGE, (1, 3, 224, 224)) is None


def test_rank_mismatch():
    assert shape_mismatch(IMAGE, (1, 3, 224)) == (
        "Invalid number of shape dimensions for input 'image'. Obtained shape [1, 3, 224], required shape [1, 3, 224, 224]"
    )


def test_batch_only_mismatch():
    assert shape_mismatch(IMAGE, (2, 3, 224, 224)) == (
        "Input batch size is incorrect for input 'image'. Obtained batch size 2, required batch size 1"
    )


@pytest.mark.parametrize("shape", [(1, 3, 10, 10), (2, 3, 10, 10)])
def test_other_mismatch(shape):
    assert shape_mismatch(IMAGE, shape) == (
        f"Invalid input shape for 'image'. Obtained shape {list(shape)}, required shape [1, 3, 224, 224]"
    )


@pytest.mark.parametrize("shape", [(1, 3, 200, 1), (5, 3, 250, 9), (8, 3, 300, 4000)])
def test_any_and_range_dims_fit(shape):
    assert shape_mismatch(spec("f32", (-1, 3, (200, 300), -1)), shape) is None


@pytest.mark.parametrize("shape", [(1, 3, 199, 1), (1, 3, 301, 1), (1, 4, 250, 1)])
def test_range_dims_outside_their_bounds(shape):
    assert shape_mismatch(spec("f32", (-1, 3, (200, 300), -1)), shape) == (
        f"Invalid input shape for 'x'. Obtained shape {list(shape)}, required shape [-1, 3, 200:300, -1]"
    )


def test_batch_range_mismatch_is_reported_as_a_shape():
    assert shape_mismatch(spec("f32", ((1, 4), 3)), (5, 3)) == (
        "Invalid input shape for 'x'. Obtained shape [5, 3], required shape [1:4, 3]"
    )


def test_unknown_rank_accepts_any_shape():
    assert shape_mismatch(spec("f32", None), (2, 3, 4, 5, 6)) is None


# --- check_names ------------------------------------------------------------------------------

TWO = Signature(inputs=(spec(name="a"), TensorSpec("b", 1, BY_OV_NAME["i64"], (-1,))), outputs=())


def names_error(given: dict) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_names(given, TWO)
    return caught.value.message


def test_all_names_present():
    check_names({"b": 1, "a": 1}, TWO)


def test_unknown_name():
    assert names_error({"a": 1, "b": 1, "c": 1}) == (
        "input tensor alias not found in signature: ['c']. Inputs expected to be in the set ['a', 'b']"
    )


def test_unknown_name_is_reported_before_missing_ones():
    assert names_error({"c": 1}).startswith("input tensor alias not found in signature: ['c'].")


@pytest.mark.parametrize(("given", "missing"), [({"a": 1}, "['b']"), ({}, "['a', 'b']")])
def test_missing_names(given, missing):
    assert names_error(given) == f"missing input tensors: {missing}. The model expects all of ['a', 'b']"


@pytest.mark.parametrize("target", ["f32", "f16", "i64", "u8", "boolean"])
@pytest.mark.parametrize(
    ("array", "named"),
    [
        (np.array(["2020-01-01"], "M8[D]"), "datetime64[D]"),
        (np.array([1], "m8[s]"), "timedelta64[s]"),
        (np.array([1 + 0j]), "complex128"),
        (np.zeros(2, "V4"), "void32"),
    ],
)
def test_dates_durations_complex_and_void_are_not_numbers(target, array, named):
    message = rejected(target, array)
    assert named in message and BY_OV_NAME[target].tf_name in message
