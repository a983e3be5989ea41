"""Static-shape compiles for the batch sizes a batcher forms (config.json ``"static_batch_sizes": true``).

OpenVINO's CPU plugin runs a model compiled for one fixed batch faster than
the same model compiled with a dynamic batch dimension: measured on the
MobileNet-shaped bench model, batch 8 gives 856 rows/s static against 726
dynamic (bench/RESULTS.md). A batcher with ``allowed_batch_sizes`` only ever
forms those sizes, so each can have its own static compile; any other row
count (a request larger than ``max_batch_size``, which runs alone and
unpadded) still runs on the dynamic compile.

The price is memory and start-up: every static compile holds its own copy of
the weights (+65 MB per size for ResNet-50, +20 MB for the MobileNet model)
and compiles once more (a cache dir makes later starts cache loads). That is
why it is opt-in rather than implied by ``allowed_batch_sizes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .batch_shapes import BATCH_AXIS


class SizedPools:
    """``InferPool``'s interface over several compiles: each batch runs on the pool compiled for its row count."""

    def __init__(self, dynamic: Any, static: dict[int, Any]) -> None:
        self._dynamic = dynamic
        self._static = static

    @property
    def size(self) -> int:
        """Inferences that may run at once: the dynamic pool's, which the batcher also counts its slots by."""
        return self._dynamic.size

    @property
    def sizes(self) -> tuple[int, ...]:
        """The batch sizes with a static compile."""
        return tuple(sorted(self._static))

    async def run(self, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        first = next(iter(inputs.values()))
        pool = self._static.get(first.shape[BATCH_AXIS] if first.ndim else -1, self._dynamic)
        return await pool.run(inputs)

    def close(self) -> None:
        self._dynamic.close()
        for pool in self._static.values():
            pool.close()


def with_batch(model: Any, rows: int) -> Any:
    """A copy of ``model`` whose every input has ``rows`` at the batch axis (other dimensions as they were)."""
    import openvino as ov

    copy = model.clone()
    shapes = {}
    for port in copy.inputs:
        dims = list(port.get_partial_shape())
        dims[BATCH_AXIS] = ov.Dimension(rows)
        shapes[port] = ov.PartialShape(dims)
    copy.reshape(shapes)
    return copy


def compile_sizes(model: Any, sizes: tuple[int, ...], compile_pool: Callable[[Any, int], Any]) -> dict[int, Any]:
    """One pool per size, each from ``compile_pool(static_model, size)``; closes what it built if one fails."""
    pools: dict[int, Any] = {}
    try:
        for rows in sizes:
            pools[rows] = compile_pool(with_batch(model, rows), rows)
    except BaseException:
        for pool in pools.values():
            pool.close()
        raise
    return pools
