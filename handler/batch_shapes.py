"""Which models can be batched, and what batch sizes they take: read from a ``Signature`` or compiled ports.

The batch dimension is axis 0 of every input and output (``BATCH_AXIS``). These
checks run once per loaded version, before any request: ``batching_problem``
is the start-up message for a model that cannot be batched, ``BatchLimits`` the
sizes the batcher may form and pad to, ``validation_signature`` the shapes
requests are checked against once padding makes a smaller batch acceptable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .batching_settings import BatchingSettings
from .signature import Signature, TensorSpec, port_dims

BATCH_AXIS = 0  # the batch dimension of every input and output; documented, not configurable

_Port = tuple[str, tuple | None, str | None]  # name, dims (None: rank unknown), layout letters


def _port(port: Any, index: int, side: str) -> _Port:
    """Name, dims and layout of an OpenVINO port, as ``Signature`` would describe it."""
    name = port.get_any_name() if port.get_names() else f"{side}_{index}"
    return name, port_dims(port.get_partial_shape()), None


def ports(source: Signature | Any) -> tuple[list[_Port], list[_Port]]:
    """Inputs and outputs of a ``Signature``, a compiled model or an ``openvino.Model``."""
    if isinstance(source, Signature):
        return ([(s.name, s.shape, s.layout) for s in source.inputs], [(s.name, s.shape, s.layout) for s in source.outputs])
    return (
        [_port(p, i, "input") for i, p in enumerate(source.inputs)],
        [_port(p, i, "output") for i, p in enumerate(source.outputs)],
    )


def batching_problem(source: Signature | Any) -> str | None:
    """Why this model cannot be batched (one line for the start-up error), or None when it can.

    Every input and output must have a known rank of at least 1 with the batch at
    axis 0 (a declared layout must put ``N`` first), the inputs must agree on a
    fixed batch if they have one, and no output may have a fixed first dimension
    other than that batch: such an output does not follow the batch, so its rows
    cannot be handed back request by request.
    """
    inputs, outputs = ports(source)
    fixed: dict[str, int] = {}
    for side, described in (("input", inputs), ("output", outputs)):
        for name, dims, layout in described:
            where = f"{side} {name!r}"
            if dims is None:
                return f"{where} has no known rank; batching needs the batch dimension at axis 0 of every input and output"
            if not dims:
                return f"{where} is a scalar; batching needs the batch dimension at axis 0 of every input and output"
            if layout and "N" in layout and layout.index("N") != BATCH_AXIS:
                return f"{where} has layout {layout}; batching needs the batch dimension N first"
            if dims[0] == 0:
                return f"{where} has a first dimension of 0; batching needs the batch dimension at axis 0"
            if side == "input" and isinstance(dims[0], int) and dims[0] > 0:
                fixed[name] = dims[0]
    if len(set(fixed.values())) > 1:
        shown = ", ".join(f"{name!r} {size}" for name, size in fixed.items())
        return f"inputs have different fixed batch sizes ({shown}); batching needs one batch dimension shared by all"
    batch = next(iter(fixed.values()), None)
    if batch == 1:
        name = next(iter(fixed))
        return (f"input {name!r} has a fixed batch of 1, so no two requests can be merged; "
                'give the model a dynamic batch ("batch_size": "auto" or "shape") or turn batching off for it')
    for name, dims, _ in outputs:
        first = dims[0]  # type: ignore[index]
        if isinstance(first, int) and first > 0 and first != batch:
            follows = f"the batch of {batch}" if batch else "the request's rows"
            return f"output {name!r} always has {first} rows instead of {follows}; it does not carry the batch dimension"
    return None


def validation_signature(signature: Signature) -> Signature:
    """``signature`` as requests are checked against when batching is on: a fixed batch N takes 1 to N rows.

    The batcher pads smaller requests up to N, so a request of fewer rows is no
    longer wrong; every other dimension is checked as before, and error messages
    quote the batch as ``1:N``.
    """
    def relaxed(spec: TensorSpec) -> TensorSpec:
        first = spec.shape[0] if spec.shape else None
        if isinstance(first, int) and first > 1:
            return replace(spec, shape=((1, first), *spec.shape[1:]))  # type: ignore[misc]
        return spec

    return replace(signature, inputs=tuple(relaxed(spec) for spec in signature.inputs))


@dataclass(frozen=True)
class BatchLimits:
    """Batch sizes the model and the settings allow."""

    max_rows: int
    min_rows: int
    fixed: int | None
    allowed: tuple[int, ...]

    @classmethod
    def of(cls, inputs: list[_Port], settings: BatchingSettings) -> BatchLimits:
        low, high, fixed = 1, settings.max_batch_size, None
        for _, dims, _ in inputs:
            first = dims[0] if dims else -1
            if isinstance(first, int) and first > 0:
                fixed = first
            elif isinstance(first, tuple):
                low = max(low, first[0])
                high = min(high, first[1]) if first[1] >= 0 else high
        if fixed is not None:  # the model's batch wins over max_batch_size and allowed_batch_sizes
            return cls(fixed, fixed, fixed, ())
        high = max(low, high)
        return cls(high, low, None, tuple(s for s in settings.allowed_batch_sizes if low <= s <= high))

    def padded(self, rows: int) -> int:
        """The batch size ``rows`` rows run as."""
        if self.fixed is not None:
            return max(rows, self.fixed)
        rows = max(rows, self.min_rows)
        return next((size for size in self.allowed if size >= rows), rows)
