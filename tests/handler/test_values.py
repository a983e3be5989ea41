"""Setting-value parsers in handler/values.py: accepted spellings and one-line errors naming the key."""

from __future__ import annotations

import pytest

from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.values import (
    ShapeSpec,
    VersionPolicy,
    parse_batch_size,
    parse_bool,
    parse_dims,
    parse_int,
    parse_layout,
    parse_plugin_config,
    parse_shape,
    parse_version_policy,
)


def config_error(call, *args) -> str:
    """The message of the ConfigError ``call(*args)`` raises; it must be a single line."""
    with pytest.raises(ConfigError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    assert message == caught.value.message
    return message


# --- parse_int / parse_bool -------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(5, 5), ("7", 7), (" 8 ", 8), ("0", 0), (10, 10)])
def test_parse_int_accepts_ints_and_decimal_text_within_bounds(value, expected):
    assert parse_int("--nireq", value, minimum=0, maximum=10) == expected


def test_parse_int_without_bounds_accepts_negative_text():
    assert parse_int("--x", "-5") == -5


@pytest.mark.parametrize("value", ["abc", "1e3", "5.0", 5.0, None, True, False, "", "-1", 11, "11"])
def test_parse_int_rejects_non_integers_and_out_of_range(value):
    message = config_error(parse_int, "--nireq", value, 0, 10)
    assert message.startswith("--nireq: expected an integer from 0 to 10, got ")


def test_parse_int_message_quotes_the_value_given():
    assert config_error(parse_int, "--nireq", "abc", 0) == "--nireq: expected an integer >= 0, got 'abc'"


def test_parse_int_message_without_bounds():
    assert config_error(parse_int, "--port", "x") == "--port: expected an integer, got 'x'"


def test_parse_int_minimum_only_is_inclusive():
    assert parse_int("--k", 1, minimum=1) == 1
    assert config_error(parse_int, "--k", 0, 1) == "--k: expected an integer >= 1, got '0'"


def test_parse_int_maximum_only_names_the_bound():
    assert parse_int("--k", 10, maximum=10) == 10
    message = config_error(parse_int, "--k", 11, None, 10)
    assert message.startswith("--k: expected ")
    assert "10" in message.split(", got")[0]


def test_parse_int_truncates_very_long_values_in_the_message():
    message = config_error(parse_int, "--k", "x" * 300)
    assert len(message) < 200
    assert message.endswith("...'")


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "Yes", "on", " On ", True])
def test_parse_bool_true_spellings(text):
    assert parse_bool("--preload", text) is True


@pytest.mark.parametrize("text", ["0", "false", "False", "no", "OFF", "", False])
def test_parse_bool_false_spellings(text):
    assert parse_bool("--preload", text) is False


@pytest.mark.parametrize("value", ["maybe", "2", 2, None, "truthy"])
def test_parse_bool_rejects_other_values(value):
    message = config_error(parse_bool, "--preload", value)
    assert message.startswith("--preload: expected true or false, got ")


# --- parse_dims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("(1,3,224,224)", (1, 3, 224, 224)),
        ("[1,3,-1,-1]", (1, 3, -1, -1)),
        ("1,3,200:300", (1, 3, (200, 300))),
        ("( 1 , 3 , 224 )", (1, 3, 224)),
        ("(1,3,10..20)", (1, 3, (10, 20))),
        ("(?,3)", (-1, 3)),
        ("?", (-1,)),
        ("(5:5)", ((5, 5),)),
        ([1, 3, 224, 224], (1, 3, 224, 224)),
        ([1, -1, "?", "2:4"], (1, -1, -1, (2, 4))),
        ((2, 2), (2, 2)),
    ],
)
def test_parse_dims_accepted_forms(value, expected):
    assert parse_dims("--shape", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("(1,a)", "a shape like (1,3,224,224)"),
        ("(-2,3)", "a shape like (1,3,224,224)"),
        ("(5:2)", "a range low:high with low <= high"),
        ("(1,,2)", "a shape like (1,3,224,224)"),
        ("(1,2,)", "a shape like (1,3,224,224)"),
        ("(1.5,2)", "a shape like (1,3,224,224)"),
        ("(1,3", "a shape like (1,3,224,224)"),
        pytest.param("(1,\u00b2)", "a shape like (1,3,224,224)", id="superscript-two-is-not-a-digit"),
        ([1, -2], "dimensions >= -1"),
        ([1, True], "dimensions as integers, -1 or low:high"),
        ([1, 2.5], "a shape like (1,3,224,224)"),
    ],
)
def test_parse_dims_rejects_bad_shapes(value, expected):
    message = config_error(parse_dims, "--shape", value)
    assert message.startswith(f"--shape: expected {expected}")


@pytest.mark.parametrize("value", ["(1,a)", "(-2,3)", "(5:2)", "(1,,2)"])
def test_parse_dims_error_quotes_the_whole_value(value):
    assert config_error(parse_dims, "--shape", value).endswith(f"got {value!r}")


@pytest.mark.parametrize("value", [5, None, {"a": 1}])
def test_parse_dims_rejects_non_shape_types(value):
    assert config_error(parse_dims, "--shape", value).startswith("--shape: expected a shape like (1,3,224,224)")


# --- parse_shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_parse_shape_absent(value):
    assert parse_shape("--shape", value) is None


@pytest.mark.parametrize("value", ["auto", "AUTO", " Auto "])
def test_parse_shape_auto(value):
    assert parse_shape("--shape", value) == ShapeSpec(auto=True)


def test_parse_shape_single_from_text_and_list():
    assert parse_shape("--shape", "(1,3,-1,-1)") == ShapeSpec(single=(1, 3, -1, -1))
    assert parse_shape("--shape", [1, "200:300"]) == ShapeSpec(single=(1, (200, 300)))


def test_parse_shape_per_input_dict_keeps_order_and_auto_entries():
    spec = parse_shape("--shape", {"image": "(1,3,224,224)", "mask": "auto", "ids": [1, -1]})
    assert spec == ShapeSpec(per_input=(("image", (1, 3, 224, 224)), ("mask", "auto"), ("ids", (1, -1))))
    assert not spec.auto and spec.single is None


def test_parse_shape_per_input_from_json_text():
    spec = parse_shape("--shape", '{"in": "(1,3,-1,-1)", "other": "AUTO"}')
    assert spec == ShapeSpec(per_input=(("in", (1, 3, -1, -1)), ("other", "auto")))


def test_parse_shape_per_input_error_names_the_input():
    message = config_error(parse_shape, "--shape", {"image": "(1,x)"})
    assert message.startswith("--shape.image: expected a shape like (1,3,224,224)")


def test_parse_shape_rejects_empty_object_and_bad_json():
    assert config_error(parse_shape, "--shape", {}).startswith("--shape: expected a non-empty object of input name to shape")
    assert config_error(parse_shape, "--shape", "{not json").startswith("--shape: expected a JSON object")


def test_parse_shape_rejects_junk_text():
    assert config_error(parse_shape, "--shape", "junk").startswith("--shape: expected a shape like (1,3,224,224)")


# --- parse_layout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("NHWC", "NHWC"), ("nchw", "NCHW"), ("NHWC:NCHW", "NHWC:NCHW"), (" nhwc:nchw ", "NHWC:NCHW"), ("N?C", "N?C"), ("N...", "N...")],
)
def test_parse_layout_text(value, expected):
    assert parse_layout("--layout", value) == expected


@pytest.mark.parametrize("value", [None, ""])
def test_parse_layout_absent(value):
    assert parse_layout("--layout", value) is None


def test_parse_layout_dict_and_json_text():
    assert parse_layout("--layout", {"in": "nhwc:nchw", "out": "NC"}) == {"in": "NHWC:NCHW", "out": "NC"}
    assert parse_layout("--layout", '{"in": "NHWC"}') == {"in": "NHWC"}


@pytest.mark.parametrize("value", ["NH WC", "123", "NHWC:", "NHWC:NCHW:NC", "N-C", 5, {}])
def test_parse_layout_rejects_bad_values(value):
    message = config_error(parse_layout, "--layout", value)
    assert message.startswith("--layout: expected a layout like NHWC or NHWC:NCHW, or an object of tensor name to layout")


def test_parse_layout_dict_entry_error_names_the_tensor():
    message = config_error(parse_layout, "--layout", {"in": "NHWC", "out": 5})
    assert message == "--layout.out: expected a layout like NHWC or NHWC:NCHW, got '5'"


# --- parse_version_policy ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_version_policy_default_is_latest_one(value):
    assert parse_version_policy("--model_version_policy", value) == VersionPolicy(kind="latest", num_versions=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"latest": {}}, VersionPolicy(kind="latest", num_versions=1)),
        ({"latest": {"num_versions": 3}}, VersionPolicy(kind="latest", num_versions=3)),
        ('{"latest": {"num_versions": 2}}', VersionPolicy(kind="latest", num_versions=2)),
        ({"all": {}}, VersionPolicy(kind="all")),
        ('{"all": {}}', VersionPolicy(kind="all")),
        ({"specific": {"versions": [3, 1]}}, VersionPolicy(kind="specific", versions=(3, 1))),
    ],
)
def test_version_policy_forms(value, expected):
    assert parse_version_policy("--model_version_policy", value) == expected


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ({"latest": {"num_versions": 0}}, "--p.latest.num_versions: expected an integer >= 1"),
        ({"latest": {"num_versions": "two"}}, "--p.latest.num_versions: expected an integer >= 1"),
        ({"latest": {"count": 2}}, '--p: expected one of {"latest"'),
        ({"latest": {}, "all": {}}, '--p: expected one of {"latest"'),
        ({}, '--p: expected one of {"latest"'),
        ({"newest": {}}, '--p: expected one of {"latest"'),
        ({"all": []}, '--p: expected one of {"latest"'),
        ({"specific": {"versions": []}}, "--p.specific.versions: expected a non-empty list of version numbers"),
        ({"specific": {}}, "--p.specific.versions: expected a non-empty list of version numbers"),
        ({"specific": {"versions": 2}}, "--p.specific.versions: expected a non-empty list of version numbers"),
        ({"specific": {"versions": [1, 0]}}, "--p.specific.versions: expected an integer >= 1"),
        ("latest", "--p: expected a JSON object"),
        ("[1]", "--p: expected a JSON object"),
    ],
)
def test_version_policy_rejects_bad_values(value, prefix):
    assert config_error(parse_version_policy, "--p", value).startswith(prefix)


@pytest.mark.parametrize(
    ("policy", "present", "served"),
    [
        (VersionPolicy(), [1, 3, 2], [3]),
        (VersionPolicy(kind="latest", num_versions=2), [1, 3, 2], [3, 2]),
        (VersionPolicy(kind="latest", num_versions=5), [2, 1], [2, 1]),
        (VersionPolicy(kind="all"), [2, 10, 1, 2], [10, 2, 1]),
        (VersionPolicy(kind="specific", versions=(1, 5)), [1, 2, 3], [1]),
        (VersionPolicy(kind="specific", versions=(3, 1)), [1, 2, 3], [3, 1]),
        (VersionPolicy(kind="specific", versions=(7,)), [1, 2], []),
        (VersionPolicy(), [], []),
    ],
)
def test_version_policy_select(policy, present, served):
    assert policy.select(present) == served


# --- parse_plugin_config ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_plugin_config_absent(value):
    assert parse_plugin_config("--plugin_config", value) == {}


def test_plugin_config_values_become_strings():
    config = parse_plugin_config("--plugin_config", {"NUM_STREAMS": 4, "PERF_COUNT": True, "HINT": "LATENCY", "F": 0.5})
    assert config == {"NUM_STREAMS": "4", "PERF_COUNT": "TRUE", "HINT": "LATENCY", "F": "0.5"}
    assert parse_plugin_config("--plugin_config", {"ENABLE": False}) == {"ENABLE": "FALSE"}


def test_plugin_config_translates_legacy_keys_and_values():
    config = parse_plugin_config(
        "--plugin_config", '{"CPU_THROUGHPUT_STREAMS": "CPU_THROUGHPUT_AUTO", "CPU_THREADS_NUM": 2}'
    )
    assert config == {"NUM_STREAMS": "AUTO", "INFERENCE_NUM_THREADS": "2"}
    assert parse_plugin_config("--plugin_config", {"GPU_THROUGHPUT_STREAMS": "GPU_THROUGHPUT_AUTO"}) == {"NUM_STREAMS": "AUTO"}
    assert parse_plugin_config("--plugin_config", {"CPU_THROUGHPUT_STREAMS": 3}) == {"NUM_STREAMS": "3"}


@pytest.mark.parametrize(("setting", "shown"), [([1], "'[1]'"), ({"a": 1}, "'{\"a\": 1}'"), (None, "'null'")])
def test_plugin_config_rejects_nested_and_null_values(setting, shown):
    message = config_error(parse_plugin_config, "--plugin_config", {"NUM_STREAMS": setting})
    assert message == f"--plugin_config.NUM_STREAMS: expected a string, number or boolean, got {shown}"


@pytest.mark.parametrize("value", ["NUM_STREAMS=4", "[1, 2]", "{bad", 4])
def test_plugin_config_rejects_non_objects(value):
    assert config_error(parse_plugin_config, "--plugin_config", value).startswith("--plugin_config: expected a JSON object, got ")


# --- parse_batch_size -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, "0", "", None])
def test_batch_size_absent_means_from_the_model(value):
    assert parse_batch_size("--batch_size", value) is None


@pytest.mark.parametrize("value", ["auto", "AUTO", " Auto "])
def test_batch_size_auto(value):
    assert parse_batch_size("--batch_size", value) == "auto"


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("8", 8), (2**31 - 1, 2**31 - 1)])
def test_batch_size_integers(value, expected):
    assert parse_batch_size("--batch_size", value) == expected


@pytest.mark.parametrize("value", [-1, "-3", "abc", 1.5, True, 2**31, "automatic"])
def test_batch_size_rejects_bad_values(value):
    message = config_error(parse_batch_size, "--batch_size", value)
    assert message.startswith("--batch_size: expected an integer from 1 to 2147483647, got ")
