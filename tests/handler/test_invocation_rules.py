"""Answers over the size limit, and which model an x-protobuf body may name (issue 12: 10, 16).

In-process engine over real OpenVINO models (tests/models.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from ovserve.handler.codecs import media_types, registry, tensor_proto
from ovserve.handler.engine import Engine
from ovserve.handler.errors import InvalidInput, PayloadTooLarge
from ovserve.handler.protocols import invocations, tfs_rest
from ovserve.handler.protos import serving_apis_pb2
from tests import models
from tests.engines import engine_for, run

# ---------------------------------------------------------------- the answer limit


def test_rest_answers_over_the_limit_are_refused_before_encoding(tmp_path) -> None:
    engine = engine_for(tmp_path, zeros=models.broadcast_zeros())
    engine.max_response_bytes = 100_000

    async def scenario():
        fits = await tfs_rest.predict(engine, "zeros", None, b'{"inputs": [10, 10]}', "application/json")
        with pytest.raises(PayloadTooLarge) as caught:
            await tfs_rest.predict(engine, "zeros", None, b'{"inputs": [100, 100]}', "application/json")
        return fits, caught.value.message

    fits, message = run(engine, scenario)
    assert fits == b'{"outputs":' + str([[0.0] * 10] * 10).replace(" ", "").encode() + b"}"
    assert "more than the 100000 bytes --rest_max_response_mb" in message


def test_encode_refuses_answers_over_its_limit_for_every_type() -> None:
    outputs = {"y": np.zeros((1000, 100), np.float32)}
    for media_type in media_types.SUPPORTED:
        with pytest.raises(PayloadTooLarge) as caught:
            registry.encode(media_type, outputs, registry.AUTO, "m", 1, max_bytes=100_000)
        assert "--rest_max_response_mb" in caught.value.message and media_type in caught.value.message
    assert registry.encode(media_types.NPY, outputs, registry.AUTO, "m", 1, max_bytes=500_000)


# ---------------------------------------------------------------- which model an x-protobuf body may name


def protobuf_body(model: str, signature_name: str = "") -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    tensor_proto.fill(request.inputs["x"], np.ones((2, 4), np.float32))
    return request.SerializeToString()


def invoke(engine: Engine, body: bytes, attributes: str | None = None, model: str | None = None):
    return invocations.invoke(engine, body, media_types.PROTOBUF, media_types.JSON, attributes, invocations.Defaults(), model)


def test_a_protobuf_body_naming_another_model_is_refused_on_a_single_model_endpoint(tmp_path) -> None:
    engine = engine_for(tmp_path, model=models.add_one(shape=(-1, 4)))

    async def scenario():
        named = await invoke(engine, protobuf_body("model"))
        unnamed = await invoke(engine, protobuf_body(""))
        with pytest.raises(InvalidInput) as caught:
            await invoke(engine, protobuf_body("resnet"))
        picked = await invoke(engine, protobuf_body("resnet"), attributes="tfs-model-name=model")
        return named, unnamed, caught.value.message, picked

    named, unnamed, message, picked = run(engine, scenario)
    assert named.body == unnamed.body == picked.body == b'{"predictions":[[2.0,2.0,2.0,2.0],[2.0,2.0,2.0,2.0]]}'
    assert "names model 'resnet', which this endpoint does not serve" in message and "['model']" in message


def test_a_protobuf_body_naming_an_unserved_model_is_a_400_among_several(tmp_path) -> None:
    engine = engine_for(tmp_path, a=models.add_one(shape=(-1, 4)), b=models.add_one(shape=(-1, 4), value=5.0))

    async def scenario():
        chosen = await invoke(engine, protobuf_body("b"))
        with pytest.raises(InvalidInput) as unserved:
            await invoke(engine, protobuf_body("c"))
        with pytest.raises(InvalidInput) as mismatched:
            await invoke(engine, protobuf_body("b"), model="a")  # /models/a/invoke with a body naming b
        return chosen, unserved.value.message, mismatched.value.message

    chosen, unserved, mismatched = run(engine, scenario)
    assert chosen.body.startswith(b'{"predictions":[[6.0')
    assert "['a', 'b']" in unserved and "names model 'b'" in mismatched and "['a']" in mismatched


def test_a_protobuf_body_naming_another_signature_is_refused(tmp_path) -> None:
    engine = engine_for(tmp_path, model=models.add_one(shape=(-1, 4)))

    async def scenario():
        with pytest.raises(InvalidInput) as caught:
            await invoke(engine, protobuf_body("model", signature_name="classify"))
        return caught.value.message

    assert "'classify' not found in signature def" in run(engine, scenario)
