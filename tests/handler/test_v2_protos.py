"""Our hand-written KServe v2 proto: every field as tritonclient's official descriptors have it, in our own pool.

Also the codec's decisions that need no server: raw entries assigned in order to
the inputs without contents, versions as strings, answers always raw.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ovserve.handler.codecs import v2_proto
from ovserve.handler.errors import InvalidInput, NotFound
from ovserve.handler.protos import grpc_service_pb2 as pb
from ovserve.handler.signature import Signature, TensorSpec
from ovserve.handler.tensors import BY_OV_NAME
from tests.clients import REPO, v2_python
from tests.clients.dump_tfs_descriptors import describe
from tests.clients.dump_v2_descriptors import ROOTS, SERVICES
from tests.descriptors import assert_messages_match

# Triton's ModelConfig fields that describe Triton's own scheduler and backends, not a model: left out on purpose.
OMITTED = {
    "inference.ModelConfig": {
        "runtime", "version_policy", "batch_input", "batch_output", "optimization", "dynamic_batching",
        "sequence_batching", "ensemble_scheduling", "instance_group", "default_model_filename", "cc_model_filenames",
        "metric_tags", "parameters", "model_warmup", "model_operations", "model_transaction_policy",
        "model_repository_agents", "response_cache", "model_metrics",
    },
    "inference.ModelInput": {"reshape", "is_shape_tensor", "allow_ragged_batch", "optional", "is_non_linear_format_io"},
    "inference.ModelOutput": {"reshape", "is_shape_tensor", "is_non_linear_format_io"},
}
DECLARED = ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer", "ModelConfig",
            "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload")


@pytest.fixture(scope="module")
def official() -> dict:
    result = subprocess.run(
        [v2_python(), str(REPO / "tests" / "clients" / "dump_v2_descriptors.py")],
        capture_output=True, text=True, check=True, timeout=300,
    )
    return json.loads(result.stdout)


def test_every_field_matches_tritonclients_descriptors(official: dict):
    from ovserve.handler.protos import _pool

    ours = describe(_pool.POOL, ROOTS, SERVICES)
    assert_messages_match(ours, official, OMITTED, at_least=33)
    methods = ours["services"]["inference.GRPCInferenceService"]
    assert sorted(methods) == sorted(DECLARED)
    for method, types in methods.items():
        assert official["services"]["inference.GRPCInferenceService"][method] == types, method


def test_our_messages_stay_out_of_the_default_pool():
    """tritonclient and kserve register inference.* in the default pool; ours must never collide with them."""
    code = (
        "from google.protobuf import descriptor_pool\n"
        "from ovserve.handler.protos import grpc_service_pb2\n"
        "from tests.grpc_generated import grpc_service_pb2_grpc\n"
        "print(grpc_service_pb2.ModelInferRequest.DESCRIPTOR.file.pool is descriptor_pool.Default())\n"
        "try:\n"
        "    descriptor_pool.Default().FindMessageTypeByName('inference.ModelInferRequest')\n"
        "    print('registered')\n"
        "except KeyError:\n"
        "    print('absent')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.split() == ["False", "absent"]


def _spec(name: str, ov_name: str, shape: tuple, index: int = 0) -> TensorSpec:
    return TensorSpec(name, index, BY_OV_NAME[ov_name], shape)


SIGNATURE = Signature(
    inputs=(_spec("a", "f32", (-1, 3)), _spec("b", "f32", (-1, 3), 1), _spec("c", "i64", (2,), 2)),
    outputs=(_spec("y", "f32", (-1, 3)),),
)


def test_raw_entries_go_in_order_to_the_inputs_without_contents():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    request = pb.ModelInferRequest()
    request.inputs.add(name="a", datatype="FP32", shape=[2, 3])
    request.inputs.add(name="b", datatype="FP32", shape=[1, 3], contents=pb.InferTensorContents(fp32_contents=[1, 2, 3]))
    request.inputs.add(name="c", datatype="INT32", shape=[2])
    request.raw_input_contents.extend([a.tobytes(), np.array([7, -8], dtype="<i4").tobytes()])
    arrays = v2_proto.InferArrays(request)(SIGNATURE)
    np.testing.assert_array_equal(arrays["a"], a)
    assert arrays["b"].tolist() == [[1, 2, 3]] and arrays["b"].dtype == np.float32
    assert arrays["c"].tolist() == [7, -8] and arrays["c"].dtype == np.int64  # converted exactly to the model's i64
    assert not arrays["a"].flags.owndata, "raw input in the model's type is a view of the request's bytes"


def test_versions_are_strings():
    assert v2_proto.requested_version("") is None
    assert v2_proto.requested_version("0") is None
    assert v2_proto.requested_version("12") == 12
    for text in ("latest", "1.0", "-1", " 1"):
        with pytest.raises(NotFound):
            v2_proto.requested_version(text)


def test_answers_are_raw_in_output_order():
    outputs = {"z": np.array([[1.5, 2]], dtype=np.float32), "s": np.array([b"ab", b""], dtype=object)}
    response = v2_proto.infer_response("m", 3, outputs, "id-1")
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "id-1")
    assert [(o.name, o.datatype, list(o.shape), o.HasField("contents")) for o in response.outputs] == [
        ("z", "FP32", [1, 2], False), ("s", "BYTES", [2], False)
    ]
    assert list(response.raw_output_contents) == [outputs["z"].tobytes(), b"\x02\x00\x00\x00ab\x00\x00\x00\x00"]


def test_bf16_raw_is_widened_to_the_float_input():
    request = pb.ModelInferRequest()
    values = np.array([[1.5, -2, 3]], dtype=np.float32)
    for name in ("a", "b"):
        request.inputs.add(name=name, datatype="BF16", shape=[1, 3])
        request.raw_input_contents.append((values.view(np.uint32) >> 16).astype("<u2").tobytes())
    request.inputs.add(name="c", datatype="INT64", shape=[2], contents=pb.InferTensorContents(int64_contents=[1, 2]))
    arrays = v2_proto.InferArrays(request)(SIGNATURE)
    np.testing.assert_array_equal(arrays["a"], values)


def test_fields_of_another_datatype_are_refused():
    request = pb.ModelInferRequest()
    request.inputs.add(name="c", datatype="INT64", shape=[2], contents=pb.InferTensorContents(int64_contents=[1, 2],
                                                                                              fp32_contents=[1.0]))
    with pytest.raises(InvalidInput, match="carries its values in int64_contents, but fp32_contents is set"):
        v2_proto.request_arrays(request, Signature(inputs=(_spec("c", "i64", (2,)),), outputs=()))
