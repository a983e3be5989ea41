"""The model a toolkit-style script predicts with when it brings no ``model_fn`` of its own.

``model_fn`` is optional: without it, the ``model`` handed to ``predict_fn`` is
an ``OvserveModel``, the endpoint's model as ovserve serves it (compiled once,
batched, bounded), and ``model.predict(data)`` runs it. ``data`` may be what
ovserve's default ``input_fn`` returns (a ``DecodedBody``: the request body
decoded by its content type, exactly as ``/invocations`` decodes it), a numpy
array for a single-input model, a mapping of input names to arrays or lists,
a TF Serving JSON document (``{"instances": …}`` or ``{"inputs": …}``) or its
text. Arrays and lists are cast to each input's element type (a float64 array
for a float32 input rounds, as JSON numbers do); anything that does not fit
is the same 400 the TF Serving API gives. The answer is an ``Outputs``: a
dict of output name to array, which also remembers how the request was
shaped so ovserve's default ``output_fn`` answers in the same form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..codecs import registry, tfs_json
from ..engine import Engine, InferRequest
from ..errors import InvalidInput
from ..signature import Signature
from ..validation import convert
from .bridge import LoopBridge


@dataclass(frozen=True)
class Serving:
    """What script threads need from the server: the engine, the way onto its loop, the endpoint's defaults."""

    engine: Engine
    bridge: LoopBridge
    default_accept: str = "application/json"


@dataclass(frozen=True)
class DecodedBody:
    """A request body decoded by ovserve's codecs; what the default ``input_fn`` returns."""

    decoded: registry.Decoded
    content_type: str


class Outputs(dict):
    """Output name -> array, as ``predict`` returns them; ``form``, ``model``, ``version`` and ``v2`` say how to answer."""

    def __init__(self, outputs: Mapping[str, np.ndarray], form: str, model: str, version: int, v2: Any = None) -> None:
        super().__init__(outputs)
        self.form = form
        self.model = model
        self.version = version
        self.v2 = v2


def _named_arrays(values: Mapping[str, Any]) -> registry.ArrayBuilder:
    """Arrays by input name, each cast to its input's type (rounding floats as JSON numbers round)."""

    def arrays(signature: Signature) -> dict[str, np.ndarray]:
        built = {}
        for name, value in values.items():
            spec = signature.input(name)
            if spec is None:
                raise InvalidInput(f"{name[:100]!r} is not an input of the model, whose inputs are {signature.input_names()}")
            array = value if isinstance(value, np.ndarray) else np.asarray(value)
            built[name] = convert(spec, array, rounding_allowed=True)
        return built

    return arrays


def _single_array(value: np.ndarray) -> registry.ArrayBuilder:
    def arrays(signature: Signature) -> dict[str, np.ndarray]:
        names = signature.input_names()
        if len(names) != 1:
            raise InvalidInput(f"one array was given and the model has inputs {names}; expected a dict of input name to array")
        return _named_arrays({names[0]: value})(signature)

    return arrays


def _tfs_json_body(data: Any) -> bytes | None:
    """``data`` as TF Serving JSON text when it is that: text, a list of instances, or a document with instances/inputs."""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, list) or (isinstance(data, Mapping) and ("instances" in data or "inputs" in data)):
        try:
            return orjson.dumps(data if isinstance(data, list) else dict(data), option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise InvalidInput(f"model.predict got a TF Serving document that is not JSON: {exc}") from None
    return None


class OvserveModel:
    """The endpoint's model ``name`` (``model_dir`` is where it was extracted), run by ovserve's engine."""

    def __init__(self, serving: Serving, name: str, model_dir: str | None) -> None:
        self._serving = serving
        self.name = name
        self.model_dir = model_dir

    def predict(self, data: Any, version: int | None = None) -> Outputs:
        """Run the model on ``data`` (see the module docstring for what it may be); blocks this thread, not the loop."""
        request, form, v2 = self._request(data, version)
        engine = self._serving.engine
        prediction = self._serving.bridge.call(lambda: engine.predict(request))
        return Outputs(prediction.outputs, form, prediction.model, prediction.version, v2)

    def _request(self, data: Any, version: int | None) -> tuple[InferRequest, str, Any]:
        if isinstance(data, DecodedBody):
            decoded = data.decoded
            return decoded.request(self.name, version if version is not None else decoded.version), decoded.form, decoded.v2
        if isinstance(data, np.ndarray):
            return InferRequest(self.name, version, _single_array(data), work_bytes=data.nbytes), registry.AUTO, None
        body = _tfs_json_body(data)
        if body is not None:
            parsed = tfs_json.parse_predict(body, allow_bare=True)
            return InferRequest(self.name, version, parsed.arrays, work_bytes=len(body)), parsed.form, None
        if isinstance(data, Mapping):
            size = sum(getattr(value, "nbytes", 0) for value in data.values())
            return InferRequest(self.name, version, _named_arrays(data), work_bytes=size), registry.AUTO, None
        raise InvalidInput(
            f"model.predict got a {type(data).__name__}; expected a numpy array, a dict of input name to array, "
            "a TF Serving JSON document, or what the default input_fn returns"
        )

    def __repr__(self) -> str:
        return f"OvserveModel({self.name!r})"
