"""``application/jsonlines`` bodies: one record per line, one answer line per record.

A record is what one element of TF Serving's ``"instances"`` list would be: a
bare value for a single-input model, or an object of values named by input.
All records of a body form one batch (split later to the model's batch size);
answer line *i* is prediction *i* as the row format writes it.
"""

from __future__ import annotations

import numpy as np
import orjson

from ..errors import InvalidInput, NotAcceptable
from .tfs_json import JsonPredictRequest, dumps, parse_instances

_EXPECTED = "expected one JSON value per line: a record's input value, or an object of values named by input"


def parse(body: bytes) -> JsonPredictRequest:
    """The lines as row-format instances; InvalidInput names the first line that is not JSON."""
    records = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"JSON Lines line {number} is not valid JSON ({exc}); {_EXPECTED}") from None
    if not records:
        raise InvalidInput(f"JSON Lines body has no records; {_EXPECTED}")
    return parse_instances(records, may_hold_booleans=b"true" in body or b"false" in body)


def dump(outputs: dict[str, np.ndarray]) -> bytes:
    """One line per record: the prediction alone for one output, an object of outputs for several."""
    arrays = {name: array if array.flags.c_contiguous else np.ascontiguousarray(array) for name, array in outputs.items()}
    counts = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if len(counts) != 1 or None in counts:
        raise NotAcceptable(
            f"the model's outputs {sorted(outputs)} do not share a batch dimension, so they cannot be split into "
            "JSON Lines records; ask for application/json"
        )
    count = counts.pop()
    if len(arrays) == 1:
        only = next(iter(arrays.values()))
        lines = [dumps(only[i]) for i in range(count)]
    else:
        lines = [dumps({name: array[i] for name, array in arrays.items()}) for i in range(count)]
    return b"\n".join(lines)
