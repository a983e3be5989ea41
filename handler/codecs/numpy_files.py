"""``.npy`` and ``.npz`` bodies, read without trusting what they declare.

numpy's own loaders would allocate whatever shape a header claims and can
unpickle objects. Here every header is checked first: no object, structured,
date or zero-width dtypes, every dimension within ``max_bytes`` (declared.py),
declared size == bytes present (npy) or == the zip member's declared size
(npz), and a total under ``max_bytes``. A plain ``.npy`` is then viewed in
place, without a copy.
"""

from __future__ import annotations

import io
import zipfile
from typing import BinaryIO

import numpy as np

from ..errors import InvalidInput, NotAcceptable
from .declared import check_dtype, declared_bytes
from .limits import DEFAULT_MAX_BYTES

_MAX_HEADER = 10_000
_MAX_MEMBERS = 1024


def _header(stream: BinaryIO, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from an npy header; InvalidInput when it is not one we can trust."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream, max_header_size=_MAX_HEADER)
        else:
            raise InvalidInput(f"{what}: npy format version {version} is not supported; expected 1.0 or 2.0 (numpy.save)")
    except InvalidInput:
        raise
    except Exception as exc:  # numpy raises ValueError/SyntaxError/EOFError for broken headers
        raise InvalidInput(f"{what} is not a valid .npy array ({str(exc)[:200]}); expected bytes written by numpy.save") from None
    check_dtype(dtype, what)
    if any(d < 0 for d in shape):
        raise InvalidInput(f"{what}: negative dimension in shape {list(shape)}")
    return tuple(shape), fortran, dtype


def _as_array(buffer: bytes | memoryview, offset: int, shape: tuple[int, ...], fortran: bool, dtype: np.dtype) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    flat = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
    if dtype.kind == "U":
        flat = np.char.encode(flat, "utf-8")  # string tensors carry UTF-8 bytes
    return flat.reshape(shape, order="F" if fortran else "C")


def load_npy(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "request body") -> np.ndarray:
    """One array from ``.npy`` bytes; the header must account for every byte."""
    stream = io.BytesIO(body)
    shape, fortran, dtype = _header(stream, what)
    nbytes = declared_bytes(shape, dtype, what, max_bytes)
    present = len(body) - stream.tell()
    if present != nbytes:
        raise InvalidInput(
            f"{what}: header declares shape {list(shape)} of {dtype} ({nbytes} bytes) but {present} bytes follow it"
        )
    return _as_array(body, stream.tell(), shape, fortran, dtype)


def load_npz(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """Named arrays from ``.npz`` bytes (``numpy.savez``), each member checked before it is inflated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"request body is not an .npz archive ({exc}); expected bytes written by numpy.savez") from None
    if not members:
        raise InvalidInput("the .npz archive holds no arrays; expected one array per model input")
    if len(members) > _MAX_MEMBERS:
        raise InvalidInput(f"the .npz archive holds {len(members)} files; expected at most {_MAX_MEMBERS}")
    arrays: dict[str, np.ndarray] = {}
    budget = max_bytes
    for info in members:
        if not info.filename.endswith(".npy"):
            raise InvalidInput(f"the .npz member {info.filename[:100]!r} is not an .npy file; expected name.npy per input")
        name = info.filename[: -len(".npy")]
        what = f"array {name[:100]!r}"
        if info.file_size > budget + _MAX_HEADER:
            raise InvalidInput(f"{what} declares {info.file_size} bytes; expected at most {max_bytes} in all")
        try:
            with archive.open(info) as member:
                shape, fortran, dtype = _header(member, what)  # type: ignore[arg-type]
                nbytes = declared_bytes(shape, dtype, what, budget)
                header_size = member.tell()
                if header_size + nbytes != info.file_size:
                    raise InvalidInput(
                        f"{what}: header declares {nbytes} bytes of data but the member holds {info.file_size - header_size}"
                    )
                data = member.read(nbytes)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise InvalidInput(f"{what} cannot be read from the .npz archive ({exc})") from None
        if len(data) != nbytes:
            raise InvalidInput(f"{what}: the archive ends before the {nbytes} bytes its header declares")
        budget -= nbytes
        arrays[name] = _as_array(data, 0, shape, fortran, dtype)
    return arrays


def _storable(name: str, array: np.ndarray) -> np.ndarray:
    """Arrays numpy can save without pickling: string outputs become fixed-width bytes."""
    if array.dtype == object:
        try:
            return array.astype(np.bytes_)
        except (TypeError, ValueError):
            raise NotAcceptable(f"output {name!r} cannot be written as .npy; ask for application/json") from None
    return array


def dump_npy(outputs: dict[str, np.ndarray]) -> bytes:
    """The single output as ``.npy``; a model with several outputs needs ``.npz``."""
    if len(outputs) != 1:
        raise NotAcceptable(
            f"the model returns {len(outputs)} outputs {sorted(outputs)} and application/x-npy holds one; "
            "ask for application/x-npz, application/msgpack or application/json"
        )
    name, array = next(iter(outputs.items()))
    buffer = io.BytesIO()
    np.save(buffer, _storable(name, array), allow_pickle=False)
    return buffer.getvalue()


def dump_npz(outputs: dict[str, np.ndarray]) -> bytes:
    """Every output as a member ``name.npy`` of an uncompressed ``.npz``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in outputs.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, _storable(name, array), allow_pickle=False)
    return buffer.getvalue()
