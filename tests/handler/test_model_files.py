"""find_model_file: which file in a version folder is the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovserve.handler.storage.model_files import MODEL_SUFFIXES, find_model_file

PREFERENCE = [".xml", ".onnx", ".pdmodel", ".tflite", ".pb"]


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_the_documented_preference_order():
    assert list(MODEL_SUFFIXES) == PREFERENCE


@pytest.mark.parametrize("index", range(len(PREFERENCE)))
def test_the_most_preferred_kind_present_wins(tmp_path, index):
    present = PREFERENCE[index:]
    touch(tmp_path, "notes.txt", "model.bin", *(f"net{suffix}" for suffix in present))

    assert find_model_file(tmp_path) == tmp_path / f"net{PREFERENCE[index]}"


@pytest.mark.parametrize("suffix", PREFERENCE)
def test_each_kind_alone_is_found(tmp_path, suffix):
    touch(tmp_path, f"weights{suffix}")

    assert find_model_file(tmp_path) == tmp_path / f"weights{suffix}"


def test_suffixes_match_regardless_of_case(tmp_path):
    touch(tmp_path, "NET.ONNX")

    assert find_model_file(tmp_path) == tmp_path / "NET.ONNX"


@pytest.mark.parametrize("suffix", PREFERENCE)
def test_model_star_is_preferred_among_several_of_a_kind(tmp_path, suffix):
    touch(tmp_path, f"aaa{suffix}", f"model{suffix}", f"zzz{suffix}")

    assert find_model_file(tmp_path) == tmp_path / f"model{suffix}"


def test_without_model_star_the_first_by_name_is_chosen(tmp_path):
    touch(tmp_path, "resnet.onnx", "alexnet.onnx", "vgg.onnx")

    assert find_model_file(tmp_path) == tmp_path / "alexnet.onnx"


def test_model_star_of_a_less_preferred_kind_does_not_beat_a_better_kind(tmp_path):
    touch(tmp_path, "model.onnx", "other.xml")

    assert find_model_file(tmp_path) == tmp_path / "other.xml"


def test_saved_model_makes_the_folder_the_answer(tmp_path):
    touch(tmp_path, "saved_model.pb")
    (tmp_path / "variables").mkdir()
    touch(tmp_path / "variables", "variables.index", "variables.data-00000-of-00001")

    assert find_model_file(tmp_path) == tmp_path


def test_saved_model_beats_a_frozen_graph_next_to_it(tmp_path):
    touch(tmp_path, "saved_model.pb", "frozen.pb")

    assert find_model_file(tmp_path) == tmp_path


def test_ir_beats_a_saved_model_as_the_documented_order_says(tmp_path):
    """The module documents IR first and TensorFlow last: "the first kind found, in that order, wins"."""
    touch(tmp_path, "saved_model.pb", "model.xml", "model.bin")

    assert find_model_file(tmp_path) == tmp_path / "model.xml"


def test_a_frozen_graph_is_a_file_answer(tmp_path):
    touch(tmp_path, "frozen_graph.pb")

    assert find_model_file(tmp_path) == tmp_path / "frozen_graph.pb"


def test_folders_named_like_models_are_not_model_files(tmp_path):
    (tmp_path / "model.xml").mkdir()
    (tmp_path / "saved_model.pb").mkdir()

    assert find_model_file(tmp_path) is None


def test_files_of_other_kinds_are_not_models(tmp_path):
    touch(tmp_path, "model.bin", "README.md", "mapping_config.json", "model.xml.bak")

    assert find_model_file(tmp_path) is None


def test_empty_folder_has_no_model(tmp_path):
    assert find_model_file(tmp_path) is None


def test_missing_folder_has_no_model(tmp_path):
    assert find_model_file(tmp_path / "absent") is None


def test_a_file_instead_of_a_folder_has_no_model(tmp_path):
    touch(tmp_path, "model.xml")

    assert find_model_file(tmp_path / "model.xml") is None
