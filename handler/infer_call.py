"""One synchronous OpenVINO inference, without the Python API's per-call dispatch.

``InferRequest.infer(inputs, share_inputs=True)`` runs a generic dispatcher in
Python on every call (single-dispatch on each value, a tensor lookup, dtype and
flag checks): about 9 microseconds of a tiny model's 20 (measured in process,
bench/RESULTS.md). Our inputs are already arrays of exactly the compiled input
types (``validation.prepare``), so ``InferCall`` builds the tensors itself and
calls the compiled request's own ``infer``:

* a writeable C-contiguous array is shared, as the dispatcher does;
* a read-only one (``np.frombuffer`` over a request body: gRPC raw contents,
  TF Serving ``tensor_content``, v2 binary data) cannot be shared, and the
  dispatcher would allocate a new tensor for it on every call. Here it is
  copied into a buffer kept per infer request and input, so a large input
  costs one copy into memory that is already mapped, not a fresh allocation
  (above glibc's mmap threshold, that is page faults and an unmap on every request).

Anything else (string and bf16 inputs, scalars, other types, or an OpenVINO
whose private ``infer`` signature differs) takes the public API, which handles
every case. String outputs come back as bytes on both paths: OpenVINO's default
UTF-8 decoding replaces what is not UTF-8 (an image echoed by a string model),
and the text encoders decode or base64 the bytes themselves.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_openvino: Any = None  # the module, imported by the first InferCall (importing it at start-up would delay the ports)
_infer_tensors: Any = None  # (request, {index: Tensor}, share_outputs, decode_strings) -> dict, when this OpenVINO has it
_ready = threading.Lock()


def _load_openvino() -> Any:
    """Import openvino once, take the compiled request's own ``infer``, and fill pyopenvino's type tables.

    ``Type.to_dtype()`` (which the public ``infer`` calls on every input) builds
    a function-local static table on first use, and building it needs the GIL.
    Two infer threads making that first call together deadlocked a server here:
    one held the C++ initialisation guard and waited for the GIL, the other held
    the GIL and waited for the guard (gdb: ``__cxa_guard_acquire`` against
    ``take_gil`` in ``_pyopenvino``, OpenVINO 2026.4, two ResNet-50 infer threads
    on their first requests), and no thread ran again. Built here, under a lock
    and before any infer thread of the pool exists, the tables are only read later.
    """
    global _openvino, _infer_tensors
    with _ready:
        if _openvino is None:
            import openvino as ov

            try:
                from openvino._pyopenvino import InferRequest as compiled_request

                _infer_tensors = compiled_request.infer
            except (ImportError, AttributeError):  # another OpenVINO layout: the public API only
                _infer_tensors = None
            ov.Type.f32.to_dtype()
            ov.Tensor(np.zeros(1, np.float32), shared_memory=True).get_element_type().to_dtype()
            _openvino = ov
    return _openvino


# Inputs larger than this are copied into a fresh tensor instead of a kept one: no large buffer lingers per request.
KEEP_BUFFER_MAX_BYTES = 64 * 1024 * 1024


class InferCall:
    """Inference on one OpenVINO infer request, with the request's own buffers for read-only inputs."""

    __slots__ = ("request", "_ov", "_dtypes", "_buffers", "_direct")

    def __init__(self, request: Any, compiled: Any) -> None:
        self._ov = _load_openvino()
        self.request = request
        self._dtypes = [_plain_dtype(self._ov, port) for port in compiled.inputs]
        self._buffers: dict[int, tuple[tuple[int, ...], Any]] = {}
        self._direct = _infer_tensors is not None

    def __call__(self, inputs: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Outputs in port order, copied (the request is reused by the next call)."""
        tensors = self._tensors(inputs) if self._direct else None
        if tensors is None:
            return self.request.infer(inputs, share_inputs=True, share_outputs=False, decode_strings=False).to_tuple()
        try:
            results = _infer_tensors(self.request, tensors, False, False)
        except TypeError:  # a private signature this OpenVINO does not have: the public API from now on
            self._direct = False
            return self.request.infer(inputs, share_inputs=True, share_outputs=False, decode_strings=False).to_tuple()
        return tuple(results.values())

    def _tensors(self, inputs: dict[int, np.ndarray]) -> dict[int, Any] | None:
        tensors: dict[int, Any] = {}
        tensor = self._ov.Tensor
        for index, array in inputs.items():
            if array.ndim == 0 or array.dtype != self._dtypes[index] or not array.flags.c_contiguous:
                return None
            if array.flags.writeable:
                tensors[index] = tensor(array, shared_memory=True)
            else:
                tensors[index] = self._copied(index, array)
        return tensors

    def _copied(self, index: int, array: np.ndarray) -> Any:
        """``array`` copied into this request's buffer for ``index`` (reused while the shape stays the same)."""
        if array.nbytes > KEEP_BUFFER_MAX_BYTES:
            return self._ov.Tensor(array.copy(), shared_memory=True)
        kept = self._buffers.get(index)
        if kept is None or kept[0] != array.shape:
            kept = (array.shape, self._ov.Tensor(np.empty(array.shape, array.dtype), shared_memory=False))
            self._buffers[index] = kept
        buffer = kept[1]
        np.copyto(buffer.data, array)
        return buffer


def _plain_dtype(ov: Any, port: Any) -> np.dtype | None:
    """The numpy type a port's arrays must have for the direct path; None (never direct) for strings and bf16."""
    element = port.get_element_type()
    if element in (ov.Type.string, ov.Type.bf16, ov.Type.dynamic):
        return None
    try:
        return np.dtype(element.to_dtype())
    except Exception:  # element types numpy has no name for
        return None
