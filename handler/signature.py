"""What a compiled model version accepts and returns, as clients see it.

Names here are the client-facing ones (after ``mapping_config.json``);
``index`` is the OpenVINO port the name belongs to. Validation, metadata and
every codec read this one description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .settings.values import Dim
from .tensors import DType


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: client name, port index, element type and (partial) shape."""

    name: str
    index: int
    dtype: DType
    shape: tuple[Dim, ...] | None  # None: rank unknown
    layout: str | None = None  # the model's declared layout ("NHWC", "NCHW", "N..."), None when it declares none

    def shape_text(self) -> str:
        """The shape as error messages quote it: [1, 3, -1, 224]."""
        if self.shape is None:
            return "[...]"
        return "[" + ", ".join(_dim_text(d) for d in self.shape) + "]"

    def metadata_dims(self) -> list[int]:
        """Dimension sizes for TF Serving metadata: -1 where not fixed."""
        if self.shape is None:
            return []
        return [d if isinstance(d, int) else -1 for d in self.shape]


def _dim_text(dim: Dim) -> str:
    if isinstance(dim, tuple):
        return f"{dim[0]}:{dim[1]}"
    return str(dim)


@dataclass(frozen=True)
class Signature:
    """Inputs and outputs of one model version, in port order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec | None:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        return None

    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def output_names(self) -> list[str]:
        return [spec.name for spec in self.outputs]


def port_dims(partial: Any) -> tuple[Dim, ...] | None:
    """An OpenVINO partial shape as signature dims: sizes, (min, max) ranges, -1 unbounded; None when the rank is unknown."""
    if partial.rank.is_dynamic:
        return None
    dims: list[Dim] = []
    for dim in partial:
        if dim.is_static:
            dims.append(dim.get_length())
        elif dim.get_max_length() >= 0:
            dims.append((dim.get_min_length(), dim.get_max_length()))
        else:
            dims.append(-1)
    return tuple(dims)
