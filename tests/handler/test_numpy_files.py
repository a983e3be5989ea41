"""npy/npz bodies: exact round trips, and every lie a header can tell refused before allocation."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from ovserve.handler.codecs import media_types, numpy_files, registry
from ovserve.handler.errors import InvalidInput, NotAcceptable
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import from_ov_name


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


def forged_npy(descr: str, shape: tuple, data: bytes = b"") -> bytes:
    """An npy header declaring whatever we like, followed by ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def zip_of(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return buffer.getvalue()


# Headers whose element count or element size is zero pass a bytes check, then numpy's frombuffer/reshape raised.
FORGED = [
    pytest.param("<f4", (0, 2**62, 2**62), b"", r"dimension 1 is 4611686018427387904", id="zero-size-huge-dims"),
    pytest.param("<f4", (0, 2**28, 2**28, 2**28), b"", "dimensions other than 0", id="zero-size-dims-beyond-budget"),
    pytest.param("<U0", (10**12,), b"", "'<U0'", id="zero-width-unicode"),
    pytest.param("|S0", (10**12,), b"", "'|S0'", id="zero-width-bytes"),
    pytest.param("|V4", (2,), b"\x00" * 8, "'|V4'", id="void"),
    pytest.param("<M8[s]", (2,), b"\x00" * 16, "datetime64", id="datetime64"),
    pytest.param("<m8[ns]", (2,), b"\x00" * 16, "timedelta64", id="timedelta64"),
    pytest.param("<c8", (1,), b"\x00" * 8, "complex64", id="complex"),
    pytest.param("<f4", (1,) * 33, b"\x00" * 4, "33 dimensions", id="rank-33"),
]


@pytest.mark.parametrize(("descr", "shape", "data", "message"), FORGED)
def test_npy_zero_size_tricks_and_non_numeric_dtypes_are_refused_naming_them(descr, shape, data, message):
    with pytest.raises(InvalidInput, match=message):
        numpy_files.load_npy(forged_npy(descr, shape, data))


@pytest.mark.parametrize(("descr", "shape", "data", "message"), FORGED)
def test_npz_zero_size_tricks_and_non_numeric_dtypes_are_refused_naming_them(descr, shape, data, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        numpy_files.load_npz(zip_of(x=forged_npy(descr, shape, data)))
    assert "array 'x'" in caught.value.message


def test_zero_batch_arrays_still_load():
    assert numpy_files.load_npy(npy(np.zeros((0, 3, 4), np.float32))).shape == (0, 3, 4)
    assert numpy_files.load_npz(npz(x=np.zeros((2, 0), np.int64)))["x"].shape == (2, 0)


def one_input(name: str = "x") -> Signature:
    return Signature((TensorSpec(name, 0, from_ov_name("f32"), (-1, 2)),), ())


def test_an_npz_from_savez_of_one_array_feeds_the_single_input():
    buffer = io.BytesIO()
    np.savez(buffer, np.ones((1, 2), np.float32))  # numpy names it arr_0
    arrays = registry.decode(media_types.NPZ, buffer.getvalue()).arrays(one_input())
    assert list(arrays) == ["x"] and arrays["x"].tolist() == [[1, 1]]
    assert list(registry.decode(media_types.NPZ, npz(x=np.ones((1, 2)))).arrays(one_input())) == ["x"]


def test_an_npz_member_named_for_no_input_is_refused_naming_it_and_the_inputs():
    with pytest.raises(InvalidInput, match=r"member 'y' .* inputs are \['x'\]"):
        registry.decode(media_types.NPZ, npz(y=np.ones((1, 2)))).arrays(one_input())
