"""Each decoder converts its own values: plain numbers round to the input's precision, typed arrays never do.

The engine and the model check arrays with the strict rule only (``prepare``);
this is the proof that every body format reaches them already converted, so
no flag has to say where the arrays came from.
"""

from __future__ import annotations

import io

import msgpack
import msgpack_numpy
import numpy as np
import pytest

from ovserve.handler.codecs import media_types, registry
from ovserve.handler.errors import InvalidInput
from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME
from ovserve.handler.validation import prepare

F32 = Signature((TensorSpec("x", 0, BY_OV_NAME["f32"], (-1, 2)),), ())
ROUNDED = [[np.float32(0.1), np.float32(0.2)]]
VALUES = [[0.1, 0.2]]  # neither has an exact float32


def built(media_type: str, body: bytes) -> dict[str, np.ndarray]:
    """What the engine receives: the decoder's arrays after the strict check the model runs."""
    return prepare(registry.decode(media_type, body).arrays(F32), F32)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=array)
    return buffer.getvalue()


def protobuf(array: np.ndarray) -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = "m"
    tensor = request.inputs["x"]
    tensor.dtype = tensor_pb2.DT_DOUBLE
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=size)
    tensor.tensor_content = array.tobytes()
    return request.SerializeToString()


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        (media_types.JSON, b'{"instances": [[0.1, 0.2]]}'),
        (media_types.JSON, b'{"inputs": {"x": [[0.1, 0.2]]}}'),
        (media_types.JSON, b"[0.1, 0.2]\n[0.1, 0.2]"),  # JSON lines with a JSON content type
        (media_types.JSONLINES, b"[0.1, 0.2]"),
        (media_types.CSV, b"0.1,0.2"),
        (media_types.MSGPACK, msgpack.packb({"x": VALUES})),  # plain lists are numbers, not a typed array
    ],
)
def test_plain_numbers_round_to_the_inputs_precision_in_their_decoder(media_type, body):
    arrays = registry.decode(media_type, body).arrays(F32)

    assert arrays["x"].dtype == np.float32  # converted before the arrays leave the decoder
    assert arrays["x"][:1].tolist() == ROUNDED
    assert prepare(arrays, F32)["x"].tolist() == arrays["x"].tolist()  # the strict check changes nothing


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        (media_types.NPY, npy(np.array(VALUES))),
        (media_types.NPZ, npz(np.array(VALUES))),
        (media_types.MSGPACK, msgpack.packb({"x": np.array(VALUES)}, default=msgpack_numpy.encode)),
        (media_types.PROTOBUF, protobuf(np.array(VALUES))),
    ],
)
def test_typed_float64_arrays_never_round(media_type, body):
    with pytest.raises(InvalidInput, match="converting would change values"):
        built(media_type, body)


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        (media_types.NPY, npy(np.array([[0.5, 2.0]]))),
        (media_types.MSGPACK, msgpack.packb({"x": np.array([[0.5, 2.0]])}, default=msgpack_numpy.encode)),
        (media_types.PROTOBUF, protobuf(np.array([[0.5, 2.0]]))),
    ],
)
def test_typed_arrays_whose_values_fit_convert(media_type, body):
    arrays = built(media_type, body)

    assert arrays["x"].dtype == np.float32 and arrays["x"].tolist() == [[0.5, 2.0]]
