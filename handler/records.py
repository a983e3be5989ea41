"""Records in, records out: splitting a body of records into model batches and merging the answers.

Batch transform and multi-record bodies (CSV rows, JSON Lines) bring any
number of records; a model takes a fixed batch (``[1, ...]``, ``[8, ...]``), a
range, or any size. Records are cut into chunks the model accepts (for a range
or any size: one even share per parallel infer request, at most the model's
``max_records_per_batch``, from ``--max_records_per_batch`` /
``OVSERVE_MAX_RECORDS_PER_BATCH``), the last chunk padded with copies of its
final record when the model needs a full batch, chunks run concurrently up to
the pool's parallelism, and outputs are cut back to one row per record in
input order.
"""

from __future__ import annotations

import asyncio

import numpy as np

from .errors import InvalidInput
from .model import ServedModel
from .settings.config import DEFAULT_MAX_RECORDS_PER_BATCH
from .signature import Signature

# Largest chunk for models that take any batch size: bounds the working memory of one inference.
DEFAULT_MAX_RECORDS = DEFAULT_MAX_RECORDS_PER_BATCH


def record_count(arrays: dict[str, np.ndarray]) -> int:
    """The shared first dimension of every input: the number of records (at least one)."""
    counts = {array.shape[0] if array.ndim else None for array in arrays.values()}
    if len(counts) != 1 or None in counts:
        raise InvalidInput(f"inputs {sorted(arrays)} do not share a first (record) dimension; expected one row per record in each")
    count = counts.pop()
    if count == 0:  # nothing to infer, and no answer to merge: the body held no records
        names = ", ".join(repr(name) for name in sorted(arrays))
        which = f"input {names} has" if len(arrays) == 1 else f"inputs {names} have"
        raise InvalidInput(f"no records: {which} a first (record) dimension of 0; expected at least one record")
    return count  # type: ignore[return-value]


def batch_limits(signature: Signature, max_records: int = DEFAULT_MAX_RECORDS) -> tuple[int, int]:
    """(smallest, largest) batch the model takes, from its inputs' first dimensions (open ends capped at ``max_records``)."""
    low, high = 1, max(1, max_records)
    for spec in signature.inputs:
        if not spec.shape:
            continue
        first = spec.shape[0]
        if isinstance(first, int) and first >= 0:
            return first, first
        if isinstance(first, tuple):
            low, high = max(low, first[0]), min(high, first[1]) if first[1] >= 0 else high
    return low, max(low, high)


def _chunks(count: int, low: int, high: int) -> list[tuple[int, int, int]]:
    """(start, stop, padded size) per chunk."""
    chunks = []
    for start in range(0, count, high):
        stop = min(start + high, count)
        chunks.append((start, stop, max(stop - start, low)))
    return chunks


def _padded(array: np.ndarray, start: int, stop: int, size: int) -> np.ndarray:
    part = array[start:stop]
    if size == stop - start:
        return part
    filler = np.repeat(part[-1:], size - (stop - start), axis=0)
    return np.concatenate([part, filler])


async def infer_records(
    served: ServedModel, arrays: dict[str, np.ndarray], output_filter: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Infer every record of ``arrays`` (first dimension = records); outputs have one row per record."""
    count = record_count(arrays)
    low, high = batch_limits(served.signature, served.config.max_records_per_batch)
    parallelism = max(1, served.parallelism)
    if low < high:  # a choice of sizes: spread the records evenly over the parallel infer requests
        high = max(low, min(high, -(-count // parallelism)))
    if low <= count <= high:
        return await served.infer(arrays, output_filter=output_filter)
    gate = asyncio.Semaphore(parallelism)

    async def run(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
        async with gate:
            chunk = {name: _padded(array, start, stop, size) for name, array in arrays.items()}
            outputs = await served.infer(chunk, output_filter=output_filter)
        for name, output in outputs.items():
            if output.ndim == 0 or output.shape[0] != size:
                raise InvalidInput(
                    f"output {name!r} has shape {list(output.shape)}, not one row per record of a batch of {size}; "
                    "records cannot be matched to answers"
                )
        return {name: output[: stop - start] for name, output in outputs.items()}

    parts = await asyncio.gather(*(run(*chunk) for chunk in _chunks(count, low, high)))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
