"""read_mapping: mapping_config.json aliases, and clear errors for broken files."""

from __future__ import annotations

import json

import pytest

from ovserve.handler.errors import ModelLoadError
from ovserve.handler.mapping import FILE_NAME, Mapping, read_mapping


def write(folder, document) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    (folder / FILE_NAME).write_text(text, encoding="utf-8")


def failure(folder, document) -> str:
    write(folder, document)
    with pytest.raises(ModelLoadError) as caught:
        read_mapping(folder)
    assert caught.value.kind == "not_ready"
    message = caught.value.message
    assert FILE_NAME in message
    return message


def test_absent_file_is_an_empty_mapping(tmp_path):
    mapping = read_mapping(tmp_path)

    assert mapping == Mapping()
    assert mapping.inputs == {} and mapping.outputs == {}


def test_absent_folder_is_an_empty_mapping(tmp_path):
    assert read_mapping(tmp_path / "absent") == Mapping()


def test_inputs_and_outputs(tmp_path):
    write(tmp_path, {"inputs": {"x": "pixels", "mask:0": "mask"}, "outputs": {"y": "scores"}})

    mapping = read_mapping(tmp_path)

    assert mapping.inputs == {"x": "pixels", "mask:0": "mask"}
    assert mapping.outputs == {"y": "scores"}


@pytest.mark.parametrize(
    ("document", "inputs", "outputs"),
    [
        ({"inputs": {"x": "in"}}, {"x": "in"}, {}),
        ({"outputs": {"y": "out"}}, {}, {"y": "out"}),
        ({}, {}, {}),
        ({"inputs": {}, "outputs": {}}, {}, {}),
    ],
)
def test_either_side_may_be_absent(tmp_path, document, inputs, outputs):
    write(tmp_path, document)

    assert read_mapping(tmp_path) == Mapping(inputs=inputs, outputs=outputs)


def test_unicode_aliases(tmp_path):
    write(tmp_path, {"inputs": {"x": "entrée"}})

    assert read_mapping(tmp_path).inputs == {"x": "entrée"}


def test_an_alias_may_equal_its_tensor_name(tmp_path):
    write(tmp_path, {"inputs": {"x": "x", "z": "w"}})

    assert read_mapping(tmp_path).inputs == {"x": "x", "z": "w"}


@pytest.mark.parametrize("text", ["{not json", '{"inputs": {"x": "a"},}', ""])
def test_invalid_json(tmp_path, text):
    folder = tmp_path / "3"
    folder.mkdir()

    message = failure(folder, text)

    assert "not readable JSON" in message
    assert "version folder 3" in message


def test_text_that_is_not_utf8(tmp_path):
    (tmp_path / FILE_NAME).write_bytes(b'{"inputs": {"x": "\xff\xfe"}}')

    with pytest.raises(ModelLoadError, match="not readable JSON"):
        read_mapping(tmp_path)


@pytest.mark.parametrize("document", [[], ["inputs"], "inputs", 3, None])
def test_a_document_that_is_not_an_object(tmp_path, document):
    message = failure(tmp_path, json.dumps(document))

    assert '"inputs"' in message and '"outputs"' in message  # says what was expected


def test_an_unknown_top_level_key_is_named(tmp_path):
    message = failure(tmp_path, {"inputs": {"x": "a"}, "input_aliases": {"y": "b"}})

    assert '"inputs"' in message and '"outputs"' in message  # what was expected
    assert "input_aliases" in message  # and what was wrong


@pytest.mark.parametrize("side", ["inputs", "outputs"])
@pytest.mark.parametrize("alias", [1, None, ["a"], {"a": "b"}, True])
def test_a_non_string_alias(tmp_path, side, alias):
    message = failure(tmp_path, {side: {"t": alias}})

    assert side in message
    assert "alias" in message


@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_an_empty_alias(tmp_path, side):
    message = failure(tmp_path, {side: {"t": "ok", "u": ""}})

    assert side in message
    assert "non-empty" in message


@pytest.mark.parametrize("side", ["inputs", "outputs"])
@pytest.mark.parametrize("table", [["x", "a"], "x", 5])
def test_a_side_that_is_not_an_object(tmp_path, side, table):
    message = failure(tmp_path, {side: table})

    assert side in message


@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_duplicate_aliases(tmp_path, side):
    message = failure(tmp_path, {side: {"a": "same", "b": "other", "c": "same"}})

    assert side in message
    assert "unique" in message


def test_the_same_alias_on_both_sides_is_allowed(tmp_path):
    write(tmp_path, {"inputs": {"x": "data"}, "outputs": {"y": "data"}})

    mapping = read_mapping(tmp_path)

    assert mapping.inputs == {"x": "data"} and mapping.outputs == {"y": "data"}
