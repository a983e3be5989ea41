"""Finding the model file inside a version folder.

OpenVINO reads IR (.xml + .bin), ONNX, PaddlePaddle, TensorFlow Lite and
TensorFlow (SavedModel folders or frozen .pb); the first kind found, in that
order, wins. ``model.*`` is preferred when a folder holds several of a kind.
"""

from __future__ import annotations

from pathlib import Path

# Suffixes in order of preference.
MODEL_SUFFIXES = (".xml", ".onnx", ".pdmodel", ".tflite", ".pb")


def find_model_file(folder: Path) -> Path | None:
    """The path to give ``openvino.Core.read_model``, or None when there is no model."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return None
    for suffix in MODEL_SUFFIXES:
        if suffix == ".pb" and (folder / "saved_model.pb").is_file():
            return folder  # a SavedModel is read as a folder
        candidates = [p for p in entries if p.suffix.lower() == suffix]
        if candidates:
            preferred = [p for p in candidates if p.stem == "model"]
            return (preferred or candidates)[0]
    return None
