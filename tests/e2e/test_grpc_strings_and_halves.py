"""gRPC string_val and half_val end to end: string models and fp16 models over the wire."""

from __future__ import annotations

import json

import grpc
import numpy as np
import ovmsclient

from ovserve.handler.protos import serving_apis_pb2, tensor_pb2
from tests import models
from tests.grpc_generated import serving_services_pb2_grpc


def test_strings_and_fp16_over_grpc(start_server, tmp_path):
    models.write_version(tmp_path / "echo", 1, models.strings_echo())
    models.write_version(tmp_path / "half", 1, models.half_double())
    config = tmp_path / "config.json"
    entries = [{"config": {"name": name, "base_path": str(tmp_path / name)}} for name in ("echo", "half")]
    config.write_text(json.dumps({"model_config_list": entries}))
    server = start_server("--config_path", str(config))
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = serving_services_pb2_grpc.PredictionServiceStub(channel)

        request = serving_apis_pb2.PredictRequest()
        request.model_spec.name = "echo"
        text = request.inputs["text"]
        text.dtype = tensor_pb2.DT_STRING
        text.tensor_shape.dim.add(size=2)
        text.string_val.extend([b"hello", "wörld".encode()])
        response = stub.Predict(request, timeout=60)
        out = response.outputs["text"]
        assert out.dtype == tensor_pb2.DT_STRING
        assert list(out.string_val) == [b"hello", "wörld".encode()]

        request = serving_apis_pb2.PredictRequest()
        request.model_spec.name = "half"
        halves = request.inputs["h"]
        halves.dtype = tensor_pb2.DT_HALF
        halves.tensor_shape.dim.add(size=3)
        halves.half_val.extend(np.array([1.5, -2, 0.25], np.float16).view(np.uint16).tolist())
        response = stub.Predict(request, timeout=60)
        doubled = np.frombuffer(response.outputs["doubled"].tensor_content, np.float16)
        assert response.outputs["doubled"].dtype == tensor_pb2.DT_HALF
        np.testing.assert_array_equal(doubled, [3, -4, 0.5])

        metadata = serving_apis_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        metadata.model_spec.name = "echo"
        signatures = serving_apis_pb2.SignatureDefMap()
        assert stub.GetModelMetadata(metadata, timeout=60).metadata["signature_def"].Unpack(signatures)
        assert signatures.signature_def["serving_default"].inputs["text"].dtype == tensor_pb2.DT_STRING

    client = ovmsclient.make_grpc_client(server.grpc_target)
    result = client.predict({"text": np.array([b"a", b"bc"])}, "echo")
    assert [bytes(v) for v in np.asarray(result).reshape(-1)] == [b"a", b"bc"]
    np.testing.assert_array_equal(client.predict({"h": np.array([1, 2], np.float16)}, "half"), [2, 4])
