"""Slice-at-a-time JSON answers are byte for byte what tfs_json writes in one call."""

from __future__ import annotations

import numpy as np
import pytest

from ovserve.handler.codecs import chunked_json, tfs_json
from ovserve.handler.errors import InvalidInput

RNG = np.random.default_rng(12)
CASES = {
    "f32-large": {"y": RNG.random((3000, 50), dtype=np.float32)},
    "f64-3d": {"y": RNG.random((700, 10, 12))},
    "i64-odd-rows": {"y": RNG.integers(-(2**62), 2**62, (70_001, 1))},
    "bool": {"y": RNG.random((100_000,)) > 0.5},
    "scalar": {"y": np.float32(2.5).reshape(())},
    "empty": {"y": np.zeros((0, 4), np.float32)},
    "strings": {"y": np.array([b"a", b"\xff", "é".encode()] * 30_000)},
    "non-contiguous": {"y": RNG.random((400, 600), dtype=np.float32).T},
    "two": {"a": RNG.random((20_000, 5), dtype=np.float32), "b": RNG.integers(0, 9, (20_000, 3))},
    "small": {"a": np.ones((2, 2), np.float32), "b": np.arange(2)},
}


@pytest.mark.parametrize("form", [tfs_json.ROW, tfs_json.COLUMN])
@pytest.mark.parametrize("case", list(CASES))
def test_chunked_answers_match_one_call(case: str, form: str) -> None:
    outputs = CASES[case]
    try:
        expected = tfs_json.encode_predict(outputs, form)
    except InvalidInput as refused:
        with pytest.raises(InvalidInput) as caught:
            chunked_json.encode_predict(outputs, form)
        assert caught.value.message == refused.message
        return
    assert chunked_json.encode_predict(outputs, form) == expected


def test_outputs_without_a_shared_batch_are_refused_in_row_form() -> None:
    with pytest.raises(InvalidInput, match="do not share a batch dimension"):
        chunked_json.encode_predict({"a": np.ones((3, 2)), "b": np.ones((4,))}, tfs_json.ROW)
