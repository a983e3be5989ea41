"""proto_scan: raw tensor bytes found from the wire format, and a give-up that always errs towards "costly"."""

from __future__ import annotations

import numpy as np

from ovserve.handler import offload
from ovserve.handler.codecs import proto_scan, tensor_proto
from ovserve.handler.protos import grpc_service_pb2 as pb
from ovserve.handler.protos import serving_apis_pb2
from ovserve.server.grpc_api import PREDICT_RAW_PATHS
from ovserve.server.grpc_errors import parse_work
from ovserve.server.grpc_v2 import INFER_RAW_PATHS

IMAGE = np.zeros((1, 3, 224, 224), np.float32)


def infer_request(*raws: bytes) -> bytes:
    request = pb.ModelInferRequest(model_name="resnet50", id="r1")
    for index, raw in enumerate(raws):
        request.inputs.add(name=f"x{index}", datatype="FP32", shape=[len(raw) // 4])
        request.raw_input_contents.append(raw)
    return request.SerializeToString()


def predict_request(**arrays: np.ndarray) -> bytes:
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = "resnet50"
    for name, array in arrays.items():
        tensor_proto.fill(request.inputs[name], array)
    return request.SerializeToString()


def test_model_infer_raw_contents_are_counted() -> None:
    body = infer_request(IMAGE.tobytes(), b"\x00" * 40)
    assert proto_scan.raw_bytes(body, INFER_RAW_PATHS) == IMAGE.nbytes + 40


def test_predict_tensor_content_is_counted_through_the_inputs_map() -> None:
    body = predict_request(image=IMAGE, extra=np.ones((2, 5), np.float32))
    assert proto_scan.raw_bytes(body, PREDICT_RAW_PATHS) == IMAGE.nbytes + 40


def test_typed_values_are_not_raw() -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="x", datatype="FP32", shape=[100_000]).contents.fp32_contents.extend([1.0] * 100_000)
    assert proto_scan.raw_bytes(request.SerializeToString(), INFER_RAW_PATHS) == 0


def test_a_message_of_many_fields_stops_the_scan_and_counts_as_costly() -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.raw_input_contents.extend([b"\x00" * 8] * (proto_scan.MAX_FIELDS + 10))
    found = proto_scan.raw_bytes(request.SerializeToString(), INFER_RAW_PATHS)
    assert found < 8 * proto_scan.MAX_FIELDS


def test_truncated_or_garbage_bytes_never_raise() -> None:
    body = infer_request(IMAGE.tobytes())
    assert proto_scan.raw_bytes(body[: len(body) // 2], INFER_RAW_PATHS) == 0  # the cut field is not counted
    assert proto_scan.raw_bytes(b"\xff" * 1000, INFER_RAW_PATHS) == 0
    assert proto_scan.raw_bytes(b"", INFER_RAW_PATHS) == 0


def test_parse_work_discounts_raw_bytes_only_in_large_messages() -> None:
    body = infer_request(IMAGE.tobytes())
    assert len(body) >= offload.OFFLOAD_AT_BYTES
    work = parse_work(body, INFER_RAW_PATHS)
    assert work < offload.OFFLOAD_AT_BYTES  # one ResNet-50 image: parsed where it arrived
    assert work == len(body) - IMAGE.nbytes + offload.raw_work(IMAGE.nbytes)
    assert parse_work(body, ()) == len(body)  # no raw fields named: its size
    params = pb.ModelInferRequest(model_name="m")
    for index in range(40_000):
        params.parameters[str(index)].bool_param = True
    costly = params.SerializeToString()
    assert parse_work(costly, INFER_RAW_PATHS) == len(costly) >= offload.OFFLOAD_AT_BYTES  # map entries: full weight
