"""InferCall: OpenVINO inference without the Python dispatcher gives the public API's answers on every kind of input."""

from __future__ import annotations

import numpy as np
import openvino as ov
import pytest

from ovserve.handler import infer_call
from ovserve.handler.infer_call import InferCall
from tests import models


def compiled(model: ov.Model) -> ov.CompiledModel:
    return ov.Core().compile_model(model, "CPU", models.F32)


def public_answer(model: ov.CompiledModel, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    return model.create_infer_request().infer(inputs, share_inputs=False, share_outputs=False).to_tuple()


def test_a_writeable_input_is_shared_and_the_answer_matches_the_public_api() -> None:
    model = compiled(models.two_in_two_out())
    call = InferCall(model.create_infer_request(), model)
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.full((2, 3), 2, np.float32)
    got = call({0: a, 1: b})
    for mine, theirs in zip(got, public_answer(model, {0: a, 1: b}), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(got[1], a * 2)


def test_a_read_only_input_is_copied_into_a_kept_buffer_reused_while_its_shape_stays() -> None:
    model = compiled(models.two_in_two_out())
    call = InferCall(model.create_infer_request(), model)
    first = np.frombuffer(np.arange(6, dtype=np.float32).tobytes(), np.float32).reshape(2, 3)
    assert not first.flags.writeable
    b = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(call({0: first, 1: b})[0], first + 1)
    kept = call._buffers[0][1]
    second = np.frombuffer((np.arange(6, dtype=np.float32) * 10).tobytes(), np.float32).reshape(2, 3)
    np.testing.assert_array_equal(call({0: second, 1: b})[0], second + 1)
    assert call._buffers[0][1] is kept  # the same shape reuses the buffer: no allocation per request
    third = np.frombuffer(np.arange(9, dtype=np.float32).tobytes(), np.float32).reshape(3, 3)
    np.testing.assert_array_equal(call({0: third, 1: np.ones((3, 3), np.float32)})[0], third + 1)
    assert call._buffers[0][1] is not kept and call._buffers[0][0] == (3, 3)


def test_outputs_are_copies_that_survive_the_next_inference() -> None:
    model = compiled(models.add_one())
    call = InferCall(model.create_infer_request(), model)
    first = call({0: np.zeros((1, 10), np.float32)})[0]
    call({0: np.full((1, 10), 5, np.float32)})
    np.testing.assert_array_equal(first, np.ones((1, 10), np.float32))


@pytest.mark.parametrize("array", [
    np.arange(20, dtype=np.float32).reshape(2, 10)[:, ::2],  # not contiguous
    np.arange(10, dtype=np.float64).reshape(1, 10),  # another type: the public API converts it
], ids=["strided", "float64"])
def test_inputs_the_direct_path_does_not_take_go_through_the_public_api(array: np.ndarray) -> None:
    model = compiled(models.add_one(shape=(-1, -1)))
    call = InferCall(model.create_infer_request(), model)
    np.testing.assert_array_equal(call({0: array})[0], public_answer(model, {0: array})[0])


def test_string_and_half_precision_models_answer_as_the_public_api_does() -> None:
    strings = compiled(models.strings_echo())
    texts = np.array([b"hello", b"w\xc3\xb6rld", b"\x89PNG\r\n\xff"])
    # Bytes come back as bytes, not decoded text: a value that is not UTF-8 (an image, say) survives unchanged.
    assert list(InferCall(strings.create_infer_request(), strings)({0: texts})[0]) == list(texts)
    halves = compiled(models.half_double())
    values = np.array([0.5, -3, 1024], np.float16)
    np.testing.assert_array_equal(InferCall(halves.create_infer_request(), halves)({0: values})[0], values * 2)


def test_without_the_private_entry_point_the_public_api_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infer_call, "_infer_tensors", None)
    model = compiled(models.add_one())
    call = InferCall(model.create_infer_request(), model)
    np.testing.assert_array_equal(call({0: np.zeros((1, 10), np.float32)})[0], np.ones((1, 10), np.float32))
