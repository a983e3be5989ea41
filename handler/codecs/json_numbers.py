"""Large JSON bodies: numeric arrays straight into numpy, with no Python float objects.

orjson turns a 1x3x224x224 image into 150,528 Python floats before numpy
sees them (about 8 ms here); pysimdjson parses the same body and copies the
numbers into a buffer in C (about 4 ms). Only bodies of ``LARGE_BODY`` bytes
or more take this path, and only arrays that are plainly numeric and
rectangular: anything else (booleans, strings, nulls, ragged or extra
nesting) returns None, and the caller decodes it the ordinary, strict way,
so error messages stay the same.

KServe v2 bodies (``load_tensors``, ``leaves``) take the same parser: each
input's ``data`` stays lazy and its numbers come out flattened, typed exactly
as numpy types the Python list orjson would have built, so the v2 codec's
strict path and this one cannot disagree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import simdjson

LARGE_BODY = 64 * 1024
MAX_DEPTH = 1024  # simdjson's default, and orjson's: both parsers refuse deeper documents the same way
_BUFFER_TYPES = {"f": ("d", np.float64), "i": ("i", np.int64), "u": ("u", np.uint64)}
_BOM = b"\xef\xbb\xbf"  # simdjson skips a byte order mark; orjson (the contract) refuses it


class JsonError(ValueError):
    """The body is not valid JSON (the parser's reason is the message)."""


def load(body: bytes) -> tuple[Any, Any]:
    """(document, parser): ``inputs`` arrays stay lazy simdjson arrays; the parser must outlive them."""
    parser = simdjson.Parser()
    try:
        document = parser.parse(body)
    except (ValueError, TypeError) as exc:
        raise JsonError(str(exc).split(":", 1)[-1].strip() or "invalid JSON") from None
    except RuntimeError as exc:  # simdjson's DEPTH_ERROR (and any other parser limit) is a RuntimeError
        if "DEPTH_ERROR" in str(exc):
            raise JsonError(f"depth limit exceeded: arrays and objects nest more than {MAX_DEPTH} levels deep") from None
        raise JsonError(str(exc)[:200] or "invalid JSON") from None
    if isinstance(document, simdjson.Array):
        return _rows(document), parser  # a bare list of instances (SageMaker's JSON)
    if not isinstance(document, simdjson.Object):
        return _python(document), parser
    result = {}
    for key in document:  # .items() would turn every value into Python objects
        value = document[key]
        if key == "inputs" and isinstance(value, simdjson.Object):
            result[key] = {name: _lazy(value[name]) for name in value}
        elif key in ("inputs", "instances") and isinstance(value, simdjson.Array):
            result[key] = _rows(value) if key == "instances" else value
        else:
            result[key] = _python(value)
    return result, parser


def _rows(instances: Any) -> Any:
    """Named rows become a list of {name: lazy value}; bare rows stay one lazy batch-first array."""
    if len(instances) and isinstance(instances[0], simdjson.Object):
        return [{name: _lazy(item[name]) for name in item} if isinstance(item, simdjson.Object) else _python(item)
                for item in instances]
    return instances


def _lazy(value: Any) -> Any:
    return value if isinstance(value, simdjson.Array) else _python(value)


def _python(value: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def is_lazy(value: Any) -> bool:
    """A simdjson array, or a list of them (one input across named rows)."""
    return isinstance(value, simdjson.Array) or (
        isinstance(value, list) and bool(value) and all(isinstance(item, simdjson.Array) for item in value)
    )


def as_list(value: Any) -> Any:
    """Plain Python values, wherever lazy arrays hide in ``value`` (for the strict path)."""
    if isinstance(value, list):
        return [as_list(item) for item in value]
    return value.as_list() if isinstance(value, simdjson.Array) else value


def numeric_rows(value: Any, kind: str) -> tuple[np.ndarray, int] | None:
    """Like ``numeric`` for one input across rows (stacked), or a single lazy array."""
    if not isinstance(value, list):
        return numeric(value, kind)
    decoded = [numeric(item, kind) for item in value]
    if any(item is None for item in decoded) or len({item[0].shape for item in decoded}) != 1:  # type: ignore[index]
        return None
    return np.stack([item[0] for item in decoded]), sum(item[1] for item in decoded)  # type: ignore[index]


def numeric(value: Any, kind: str) -> tuple[np.ndarray, int] | None:
    """(array, '[' count it implies) for a rectangular array of plain numbers, else None.

    ``kind`` is the numpy kind of the target ('f', 'i', 'u'). The caller checks
    the bracket counts against the body: equal counts prove no element hides
    an extra level of nesting that flattening would have swallowed.
    """
    if kind not in _BUFFER_TYPES:
        return None
    dims: list[int] = []
    node = value
    while isinstance(node, simdjson.Array):
        dims.append(len(node))
        if not dims[-1] or len(dims) > 32:
            return None
        node = node[0]
    if not _rectangular(value, dims):
        return None
    of_type, dtype = _BUFFER_TYPES[kind]
    try:
        flat = np.frombuffer(value.as_buffer(of_type=of_type), dtype=dtype)
    except (TypeError, ValueError):  # booleans, strings, nulls, out-of-range numbers: the strict path says which
        return None
    if flat.size != math.prod(dims):
        return None
    brackets = sum(math.prod(dims[:level]) for level in range(len(dims)))
    return flat.reshape(dims), brackets


def _rectangular(array: Any, dims: list[int]) -> bool:
    """Every array above the last level has the length the first elements promised."""
    level = [array]
    for depth, size in enumerate(dims[:-1]):
        following = []
        for node in level:
            if not isinstance(node, simdjson.Array) or len(node) != size:
                return False
            following.extend(node)
        level = following
        if depth == len(dims) - 2:
            return all(isinstance(node, simdjson.Array) and len(node) == dims[-1] for node in level)
    return True


def load_tensors(body: bytes | memoryview, lazy_key: str = "data") -> tuple[dict[str, Any], Any] | None:
    """(document, parser) of a KServe v2 infer request: ``inputs[i][lazy_key]`` stays a lazy array, the rest is Python.

    None whenever the body is anything but a plainly valid JSON object: a
    parse error, a byte order mark, a key given twice in an object looked up
    by key (simdjson would pick the first, orjson the last). The caller then
    parses with orjson, whose verdict and messages stay the contract.
    """
    if bytes(body[:3]) == _BOM:
        return None
    parser = simdjson.Parser()
    try:
        document = parser.parse(body)
        if not isinstance(document, simdjson.Object):
            return None
        result = _members(
            document, lambda key, value: value if key == "inputs" and isinstance(value, simdjson.Array) else _python(value)
        )
        if result is None:
            return None
        inputs = result.get("inputs")
        if isinstance(inputs, simdjson.Array):
            items = []
            for item in inputs:
                if isinstance(item, simdjson.Object):
                    item = _members(item, lambda key, value: _lazy(value) if key == lazy_key else _python(value))
                    if item is None:
                        return None
                else:
                    item = _python(item)
                items.append(item)
            result["inputs"] = items
    except (ValueError, TypeError, RuntimeError):  # whatever simdjson refuses, orjson judges and words
        return None
    return result, parser


def _members(node: Any, convert: Any) -> dict[str, Any] | None:
    """An object's members through ``convert(key, value)``; None when a key repeats (see ``load_tensors``)."""
    keys = list(node)
    if len(set(keys)) != len(keys):
        return None
    return {key: convert(key, node[key]) for key in keys}


def leaves(value: Any) -> np.ndarray | None:
    """The numbers of a lazy array, flattened row-major, as ``np.array`` types the Python list of them; else None.

    However ragged or nested ``value`` is, the result equals
    ``np.array(flattened leaves)``: int64 when every number is an integer
    token that fits, float64 when any is a decimal or exponent (integers
    converted exactly as Python converts them) or when integers mix
    negatives with values beyond int64. Anything else returns None for the
    strict path: booleans, strings, nulls, objects, an empty array (numpy
    types it float64, not by its tokens), and integers beyond int64 that are
    all non-negative (numpy may pick uint64 or float64; rare, so not copied).
    """
    if not isinstance(value, simdjson.Array):
        return None
    for of_type, dtype in (("i", np.int64), ("u", None), ("d", np.float64)):
        try:
            buffer = value.as_buffer(of_type=of_type)
        except (TypeError, ValueError, RuntimeError):
            continue
        if dtype is None:  # every number a non-negative integer, some beyond int64: numpy's choice, not copied here
            return None
        flat = np.frombuffer(buffer, dtype=dtype)
        return flat if flat.size else None
    return None
