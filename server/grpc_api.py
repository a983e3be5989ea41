"""TF Serving gRPC services (PredictionService, ModelService), and KServe v2's (``grpc_v2``), on a grpc.aio server.

Beside them on the same port: health checking that follows readiness
(``grpc_health``) and reflection describing every service (``grpc_reflection``).

Requests arrive as bytes and are parsed by ``grpc_errors.handler``, so even
undecodable bytes get INVALID_ARGUMENT. Each method converts its protobuf
request with ``handler.codecs.tfs_proto``, calls the engine, and converts
back; errors map in ``grpc_errors``. The method paths are TF Serving's own
(``/tensorflow.serving.PredictionService/Predict``); the generated client stubs
live with the tests (``tests/grpc_generated``), since the server needs none. The
server runs on the same event loop as the REST app, so both share one engine, one
repository and one set of compiled models.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# OpenVINO may fork helper processes while gRPC threads run; gRPC's fork handlers only log noise then.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from ovserve.handler import offload  # noqa: E402
from ovserve.handler.codecs import tfs_proto  # noqa: E402
from ovserve.handler.engine import Engine, InferRequest  # noqa: E402
from ovserve.handler.errors import PayloadTooLarge  # noqa: E402
from ovserve.handler.protos import grpc_service_pb2, serving_services_pb2  # noqa: E402
from ovserve.handler.protos import serving_apis_pb2 as apis  # noqa: E402
from ovserve.handler.settings.server import ServerSettings  # noqa: E402

from . import grpc_v2  # noqa: E402
from .grpc_errors import handler  # noqa: E402
from .grpc_health import SERVICE as HEALTH_SERVICE  # noqa: E402
from .grpc_health import HealthService, add_health  # noqa: E402
from .grpc_reflection import add_reflection  # noqa: E402
from .inflight import InFlight  # noqa: E402

MAX_MESSAGE_BYTES = (1 << 30) - 1  # gRPC's limit is a signed 32-bit length: 1 GiB in practice


class PredictionService:
    """Predict and GetModelMetadata."""

    def __init__(self, engine: Engine, tracker: InFlight) -> None:
        self.engine = engine
        self.tracker = tracker

    async def Predict(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        async with self.tracker:
            spec = request.model_spec
            name, version = tfs_proto.model_name(spec), tfs_proto.requested_version(spec)
            tfs_proto.check_signature_name(spec)
            arrays = tfs_proto.RequestArrays(request)  # decoded once the model is found, against its signature
            prediction = await self.engine.predict(InferRequest(
                name, version, arrays, output_filter=list(request.output_filter) or None, work_bytes=arrays.work_bytes
            ))
            outputs = prediction.outputs
            if sum(array.nbytes for array in outputs.values()) < offload.OFFLOAD_AT_BYTES:
                return tfs_proto.predict_response(name, prediction.version, outputs)
            return await _large_response(name, prediction.version, outputs)

    async def GetModelMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            tfs_proto.check_metadata_fields(list(request.metadata_field))
            spec = request.model_spec
            name = tfs_proto.model_name(spec)
            version, signature = await self.engine.metadata(name, tfs_proto.requested_version(spec))
            return tfs_proto.metadata_response(name, version, signature)


class _Serialized:
    """A response already serialized on a worker thread; ``grpc_errors.handler`` only asks for its bytes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def SerializeToString(self) -> bytes:  # noqa: N802 (protobuf's name)
        return self.body


async def _large_response(model: str, version: int, outputs: dict[str, np.ndarray]) -> Any:
    """A large PredictResponse, built and serialized off the loop; one too large to send is refused by name."""
    size = sum(array.nbytes for array in outputs.values())
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"the answer holds {size} bytes of tensors, more than the {MAX_MESSAGE_BYTES} bytes a gRPC message may "
            "carry; ask for fewer outputs (output_filter) or send smaller inputs"
        )
    return _Serialized(await offload.on_worker(lambda: tfs_proto.predict_response(model, version, outputs).SerializeToString()))


class ModelService:
    """GetModelStatus. HandleReloadConfigRequest answers UNIMPLEMENTED with a reason."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def GetModelStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        spec = request.model_spec
        return tfs_proto.status_response(self.engine.status(tfs_proto.model_name(spec), tfs_proto.requested_version(spec)))

    async def HandleReloadConfigRequest(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:  # noqa: N802
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "HandleReloadConfigRequest is not supported: ovserve watches its model folders instead "
            "(--file_system_poll_wait_seconds)",
        )
        return b""


# PredictRequest.inputs (2) -> map entry value (2) -> TensorProto.tensor_content (4): raw bytes, cheap to parse.
PREDICT_RAW_PATHS = ((2, 2, 4),)


def _channel_options(settings: ServerSettings) -> list[tuple[str, Any]]:
    options: dict[str, Any] = {
        "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
        "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
        "grpc.so_reuseport": 0,
    }
    for key, value in settings.grpc_channel_arguments.items():
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return list(options.items())


# The API services on the port, as their .proto files declare them: health follows readiness for each, reflection describes them.
API_SERVICES = (
    serving_services_pb2.DESCRIPTOR.services_by_name["PredictionService"],
    serving_services_pb2.DESCRIPTOR.services_by_name["ModelService"],
    grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"],
)


@dataclass
class GrpcServer:
    """The running gRPC server, the port it listens on, and its health service."""

    server: grpc.aio.Server
    port: int
    health: HealthService

    async def stop(self, timeout: float) -> None:
        """Health says NOT_SERVING first (watchers hear it, so balancers drain), then calls in flight get ``timeout``."""
        self.health.stop_serving()
        await self.server.stop(grace=timeout)


async def start_grpc(settings: ServerSettings, engine: Engine, tracker: InFlight) -> GrpcServer:
    """Bind and start the gRPC server: TF Serving's and KServe v2's services, health checking and reflection."""
    server = grpc.aio.server(options=_channel_options(settings))
    prediction, model = PredictionService(engine, tracker), ModelService(engine)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": handler(prediction.Predict, apis.PredictRequest, PREDICT_RAW_PATHS),
                    "GetModelMetadata": handler(prediction.GetModelMetadata, apis.GetModelMetadataRequest),
                },
            ),
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.ModelService",
                {
                    "GetModelStatus": handler(model.GetModelStatus, apis.GetModelStatusRequest),
                    "HandleReloadConfigRequest": grpc.unary_unary_rpc_method_handler(model.HandleReloadConfigRequest),
                },
            ),
            grpc_v2.generic_handler(engine, tracker),  # KServe v2 (inference.GRPCInferenceService), same port
        )
    )
    health = add_health(server, engine, [service.full_name for service in API_SERVICES])
    add_reflection(server, [*API_SERVICES, HEALTH_SERVICE])
    address = f"{settings.grpc_bind_address}:{settings.port}"
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind the gRPC port at {address}")
    await server.start()
    return GrpcServer(server, port, health)
