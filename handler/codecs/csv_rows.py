"""``text/csv`` bodies: one record per row, numbers only, no header.

A request row is one record for a single-input model; its values fill the
input's per-record shape in C order (so a model taking ``[N, 3, 2]`` reads
six numbers per row). A response row is one record too: every output's
values for that record, flattened and joined in output order. That is the
shape SageMaker batch transform splits and assembles by line.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import orjson

from ..errors import InvalidInput, NotAcceptable
from ..signature import Signature, TensorSpec
from ..validation import convert


def parse_rows(body: bytes) -> np.ndarray:
    """The body as a 2-D float64 array (rows x columns); InvalidInput names the first bad cell."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("CSV body is not UTF-8 text; expected comma-separated numbers, one record per line") from None
    # numpy's C parser. It also takes nan, inf and numbers beyond float64 (read as inf), which JSON refuses and so
    # does this codec: one isfinite pass over the table spots them, and the slow path names the cell.
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None, quotechar='"')
        if table.size and np.isfinite(table).all():
            return table
    except ValueError:
        pass
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if not lines:
        raise InvalidInput("CSV body has no rows; expected comma-separated numbers, one record per line")
    width = lines[0].count(",") + 1
    for number, line in enumerate(lines, start=1):
        if line.count(",") + 1 != width:
            raise InvalidInput(f"CSV row {number} has {line.count(',') + 1} values and row 1 has {width}; expected equal rows")
    cells = ",".join(lines).split(",")
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    # float() reads "1_0" as 10 (Python's digit separators): no CSV writer means that, so the slow path refuses it
    if values is None or '"' in text or "_" in text or not np.isfinite(values).all():
        values = np.array([_number(cell, index, width) for index, cell in enumerate(cells)], dtype=np.float64)
    return values.reshape(len(lines), width)


def _number(cell: str, index: int, width: int) -> float:
    """One cell as a finite float; InvalidInput naming the cell for anything else (as JSON refuses NaN and Infinity)."""
    stripped = cell.strip().strip('"').strip()
    row, column = divmod(index, width)
    where = f"CSV row {row + 1} column {column + 1}: {stripped[:40]!r}"
    try:
        value = float(stripped) if "_" not in stripped else None
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(f"{where} is not a number; expected numeric CSV without a header row")
    if not math.isfinite(value):
        raise InvalidInput(
            f"{where} is not a finite number; expected finite decimal numbers (NaN, Infinity and values beyond float64 "
            "are refused, as in JSON)"
        )
    return value


def _record_shape(spec: TensorSpec, width: int) -> tuple[int, ...]:
    """The per-record shape a row of ``width`` values fills for ``spec``."""
    if spec.shape is None:
        return (width,)
    if len(spec.shape) == 0:
        raise InvalidInput(f"input {spec.name!r} is a scalar; CSV rows carry records of a batched input")
    if len(spec.shape) == 1:
        if width != 1:
            raise InvalidInput(f"CSV rows have {width} values but input {spec.name!r} {spec.shape_text()} takes 1 per record")
        return ()
    dims = spec.shape[1:]
    if all(isinstance(d, int) and d >= 0 for d in dims):
        needed = math.prod(dims)  # type: ignore[arg-type]
        if needed != width:
            raise InvalidInput(
                f"CSV rows have {width} values but input {spec.name!r} {spec.shape_text()} takes {needed} per record"
            )
        return tuple(dims)  # type: ignore[arg-type]
    if len(dims) == 1:
        return (width,)
    raise InvalidInput(
        f"input {spec.name!r} {spec.shape_text()} has several open dimensions per record, so a CSV row cannot be "
        "shaped for it; send application/json or application/x-npy"
    )


def records(body: bytes, signature: Signature) -> dict[str, np.ndarray]:
    """The rows as one batch for the model's single input, typed and shaped."""
    if len(signature.inputs) != 1:
        raise InvalidInput(
            f"CSV carries one input and the model has inputs {signature.input_names()}; "
            "send application/json, application/x-npz or application/msgpack to name each input"
        )
    spec = signature.inputs[0]
    if spec.dtype.is_string:
        raise InvalidInput(f"input {spec.name!r} takes strings; CSV rows carry numbers, send application/json")
    table = parse_rows(body)
    shaped = table.reshape((table.shape[0], *_record_shape(spec, table.shape[1])))
    return {spec.name: convert(spec, shaped, rounding_allowed=True)}  # CSV numbers are text: decimals round


def _numeric_rows(array: np.ndarray) -> list[bytes]:
    """Each record's values as CSV text, shortest round-trip formatting for the array's type."""
    flat = array.reshape(array.shape[0], -1)
    if flat.dtype.kind == "b":
        flat = flat.astype(np.uint8)
    if flat.shape[1] == 0:
        return [b""] * flat.shape[0]
    if flat.dtype.kind == "f" and not np.all(np.isfinite(flat)):
        return [",".join(repr(float(v)) for v in row).encode() for row in flat]
    text = orjson.dumps(np.ascontiguousarray(flat), option=orjson.OPT_SERIALIZE_NUMPY)
    return text[2:-2].split(b"],[")


def _string_rows(array: np.ndarray) -> list[bytes]:
    rows = []
    for row in array.reshape(array.shape[0], -1):
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row]
        )
        rows.append(out.getvalue().encode())
    return rows


def dump(outputs: dict[str, np.ndarray]) -> bytes:
    """One CSV line per record (the outputs' first dimension); each output's values in order."""
    arrays = list(outputs.values())
    counts = {a.shape[0] if a.ndim else None for a in arrays}
    if len(counts) != 1 or None in counts:
        raise NotAcceptable(
            f"the model's outputs {sorted(outputs)} do not share a batch dimension, so they cannot be written "
            "as CSV records; ask for application/json or application/x-npz"
        )
    columns = [_string_rows(a) if a.dtype.kind in "SUO" else _numeric_rows(a) for a in arrays]
    lines = [b",".join(parts) for parts in zip(*columns, strict=True)]
    return b"\n".join(lines)  # no trailing newline: batch transform adds one between answers
