"""npy/npz bodies: exact round trips, and every lie a header can tell refused before allocation."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from ovserve.handler.codecs import numpy_files
from ovserve.handler.errors import InvalidInput, NotAcceptable


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "uint8", "bool", "S5"])
def test_npy_round_trips_every_plain_dtype(dtype):
    array = np.arange(12).reshape(3, 4).astype(dtype)
    loaded = numpy_files.load_npy(npy(array))
    assert loaded.dtype == array.dtype and np.array_equal(loaded, array)


def test_fortran_order_arrays_keep_their_values():
    array = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(numpy_files.load_npy(npy(array)), array)


def test_unicode_arrays_become_utf8_bytes_for_string_inputs():
    loaded = numpy_files.load_npy(npy(np.array(["héllo", "x"])))
    assert loaded.tolist() == ["héllo".encode(), b"x"]


def test_pickled_object_arrays_are_refused_without_unpickling():
    body = npy(np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(InvalidInput, match="no pickles"):
        numpy_files.load_npy(body)


def test_a_header_declaring_more_than_the_body_holds_is_refused():
    body = npy(np.zeros((2, 2), dtype=np.float32))
    forged = body.replace(b"(2, 2)", b"(9, 9)")
    with pytest.raises(InvalidInput, match=r"\(324 bytes\) but 16 bytes follow"):
        numpy_files.load_npy(forged)


def test_a_header_declaring_a_terabyte_is_refused_before_allocating():
    body = npy(np.zeros((1,), dtype=np.float32)).replace(b"(1,)", b"(1000000, 1000000)")
    with pytest.raises(InvalidInput, match="expected at most"):
        numpy_files.load_npy(body)


@pytest.mark.parametrize("body", [b"", b"not numpy", b"\x93NUMPY\x01\x00\xff\xffgarbage"])
def test_garbage_is_named_as_not_npy(body):
    with pytest.raises(InvalidInput, match="numpy.save"):
        numpy_files.load_npy(body)


def test_npz_round_trips_named_arrays():
    arrays = {"a": np.ones((2, 3), np.float32), "b": np.arange(4, dtype=np.int32)}
    loaded = numpy_files.load_npz(npz(**arrays))
    assert set(loaded) == {"a", "b"} and all(np.array_equal(loaded[k], arrays[k]) for k in arrays)


def test_npz_zip_bomb_is_refused_from_its_declared_sizes():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.zeros((64, 1024, 1024), dtype=np.uint8))  # 64 MiB of zeros
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(InvalidInput, match="expected at most"):
        numpy_files.load_npz(buffer.getvalue(), max_bytes=16 * 1024 * 1024)


def test_npz_members_must_be_npy_arrays_without_pickles():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.pkl", pickle.dumps([1, 2]))
    with pytest.raises(InvalidInput, match="not an .npy file"):
        numpy_files.load_npz(buffer.getvalue())
    with pytest.raises(InvalidInput, match="no pickles"):
        numpy_files.load_npz(npz(x=np.array([None], dtype=object)))


def test_npy_answers_need_one_output_and_npz_holds_several():
    outputs = {"a": np.ones(2, np.float32), "b": np.zeros(3, np.int64)}
    with pytest.raises(NotAcceptable, match="application/x-npz"):
        numpy_files.dump_npy(outputs)
    loaded = np.load(io.BytesIO(numpy_files.dump_npz(outputs)), allow_pickle=False)
    assert np.array_equal(loaded["a"], outputs["a"]) and np.array_equal(loaded["b"], outputs["b"])
    single = np.load(io.BytesIO(numpy_files.dump_npy({"s": np.array([b"ab", b"c"], dtype=object)})), allow_pickle=False)
    assert single.tolist() == [b"ab", b"c"]
