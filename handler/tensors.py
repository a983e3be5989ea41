"""Data type tables: OpenVINO element types, numpy dtypes, TensorFlow DataType names and KServe v2 datatypes.

One table so REST metadata, gRPC tensors and every codec agree on what a
type is called and how it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    """One element type as each side names it."""

    ov_name: str  # OpenVINO's get_type_name(): "f32", "i64", "string", ...
    numpy: np.dtype | None  # None for string tensors (numpy holds them as bytes/str)
    tf_name: str  # TensorFlow DataType enum name, as TF Serving metadata shows it
    tf_enum: int  # its number on the wire
    v2_name: str = ""  # the Open Inference Protocol (KServe v2) datatype: "FP32", "BYTES", ...

    @property
    def is_string(self) -> bool:
        return self.ov_name == "string"


_TABLE = (
    DType("f32", np.dtype(np.float32), "DT_FLOAT", 1, "FP32"),
    DType("f64", np.dtype(np.float64), "DT_DOUBLE", 2, "FP64"),
    DType("i32", np.dtype(np.int32), "DT_INT32", 3, "INT32"),
    DType("u8", np.dtype(np.uint8), "DT_UINT8", 4, "UINT8"),
    DType("i16", np.dtype(np.int16), "DT_INT16", 5, "INT16"),
    DType("i8", np.dtype(np.int8), "DT_INT8", 6, "INT8"),
    DType("string", None, "DT_STRING", 7, "BYTES"),
    DType("i64", np.dtype(np.int64), "DT_INT64", 9, "INT64"),
    DType("boolean", np.dtype(np.bool_), "DT_BOOL", 10, "BOOL"),
    DType("u16", np.dtype(np.uint16), "DT_UINT16", 17, "UINT16"),
    DType("f16", np.dtype(np.float16), "DT_HALF", 19, "FP16"),
    DType("u32", np.dtype(np.uint32), "DT_UINT32", 22, "UINT32"),
    DType("u64", np.dtype(np.uint64), "DT_UINT64", 23, "UINT64"),
)
BY_OV_NAME = {d.ov_name: d for d in _TABLE}
BY_NUMPY = {d.numpy: d for d in _TABLE if d.numpy is not None}
BY_TF_ENUM = {d.tf_enum: d for d in _TABLE}
BY_V2_NAME = {d.v2_name: d for d in _TABLE}


def from_ov_name(name: str) -> DType:
    """The DType for an OpenVINO element type name; bf16 is exposed as f32 (numpy has no bf16)."""
    if name == "bf16":
        return BY_OV_NAME["f32"]
    try:
        return BY_OV_NAME[name]
    except KeyError:
        raise ValueError(f"element type {name!r} is not supported for model inputs or outputs") from None
