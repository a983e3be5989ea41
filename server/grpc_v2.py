"""KServe v2 gRPC (``inference.GRPCInferenceService``) on the same grpc.aio server as TF Serving's services.

Like ``grpc_api``, every method takes parsed messages from
``grpc_errors.handler`` (bytes in, so undecodable bytes are INVALID_ARGUMENT,
and core errors map through the ErrorKind table: NOT_FOUND, INVALID_ARGUMENT,
UNAVAILABLE only for transient states, since the kserve client retries it).
Conversions live in ``handler.codecs.v2_proto``; this module only sequences
them around the engine, so a REST or Lambda v2 path calls the same engine
methods the same way; the model repository RPCs share
``handler.protocols.v2_repository`` with REST. Methods not declared here
(streaming, statistics, shared memory) are answered UNIMPLEMENTED by grpc itself.
"""

from __future__ import annotations

from typing import Any

import grpc

from ovserve.handler import offload
from ovserve.handler.codecs import v2_metadata, v2_proto
from ovserve.handler.engine import Engine, InferRequest
from ovserve.handler.errors import NotFound, NotReady, PayloadTooLarge
from ovserve.handler.protocols import v2_repository
from ovserve.handler.protos import grpc_service_pb2 as pb

from .grpc_errors import handler
from .inflight import InFlight

SERVICE = "inference.GRPCInferenceService"
# ModelInferRequest.raw_input_contents (7): raw bytes, cheap to parse (grpc_errors.parse_work).
INFER_RAW_PATHS = ((7,),)
MAX_MESSAGE_BYTES = (1 << 30) - 1  # the server's message limit (grpc_api.MAX_MESSAGE_BYTES)


class InferenceService:
    """The OIP core RPCs plus Triton's ModelConfig and model repository extension, over one engine."""

    def __init__(self, engine: Engine, tracker: InFlight) -> None:
        self.engine = engine
        self.tracker = tracker

    async def ServerLive(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerReadyResponse(ready=self.engine.is_ready())

    async def ModelReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        """NOT_FOUND for an unknown model or version; ``ready=false`` while it is still being discovered or loaded,
        and for a model unloaded through the repository API (as Triton answers it)."""
        name = v2_proto.model_name(request.name)
        version = v2_proto.requested_version(request.version)
        try:
            statuses = self.engine.status(name, version)
        except NotReady:
            return pb.ModelReadyResponse(ready=False)
        except NotFound:
            if v2_repository.is_unloaded(self.engine, name):
                return pb.ModelReadyResponse(ready=False)
            raise
        return pb.ModelReadyResponse(ready=v2_proto.is_ready(statuses, version))

    async def ServerMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerMetadataResponse(**v2_metadata.server_metadata())  # the same answer as REST GET /v2

    async def ModelMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            name = v2_proto.model_name(request.name)
            used, signature = await self.engine.metadata(name, v2_proto.requested_version(request.version))
            served = v2_metadata.served_versions(self.engine.status(name, None), used)
            return v2_proto.metadata_response(name, signature, served)

    async def ModelConfig(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            name = v2_proto.model_name(request.name)
            _, signature = await self.engine.metadata(name, v2_proto.requested_version(request.version))
            return v2_proto.config_response(name, signature)

    async def ModelInfer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            name = v2_proto.model_name(request.model_name)
            version = v2_proto.requested_version(request.model_version)
            arrays = v2_proto.InferArrays(request)  # decoded once the version is chosen, against its signature
            prediction = await self.engine.predict(InferRequest(
                name, version, arrays, output_filter=v2_proto.output_filter(request), work_bytes=arrays.work_bytes,
                parameters=v2_proto.parameter_values(request.parameters), request_id=request.id or None,
            ))
            outputs = prediction.outputs
            size = sum(array.nbytes for array in outputs.values())
            if size < offload.OFFLOAD_AT_BYTES:
                return v2_proto.infer_response(name, prediction.version, outputs, request.id)
            if size > MAX_MESSAGE_BYTES:
                raise PayloadTooLarge(
                    f"the answer holds {size} bytes of tensors, more than the {MAX_MESSAGE_BYTES} bytes a gRPC message "
                    "may carry; ask for fewer outputs or send smaller inputs"
                )
            body = await offload.on_worker(
                lambda: v2_proto.infer_response(name, prediction.version, outputs, request.id).SerializeToString()
            )
            return _Serialized(body)

    # Triton's model repository extension: the configured models, indexed, loaded and unloaded (``v2_repository``).

    async def RepositoryIndex(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        v2_repository.check_repository_name(request.repository_name)
        rows = v2_repository.index(self.engine, request.ready)
        return pb.RepositoryIndexResponse(models=[
            pb.RepositoryIndexResponse.ModelIndex(name=r.name, version=r.version, state=r.state, reason=r.reason)
            for r in rows
        ])

    async def RepositoryModelLoad(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            v2_repository.check_repository_name(request.repository_name)
            name = v2_proto.model_name(request.model_name)
            await v2_repository.load(self.engine, name, v2_proto.parameter_values(request.parameters))
            return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        async with self.tracker:
            v2_repository.check_repository_name(request.repository_name)
            name = v2_proto.model_name(request.model_name)
            await v2_repository.unload(self.engine, name, v2_proto.parameter_values(request.parameters))
            return pb.RepositoryModelUnloadResponse()


class _Serialized:
    """A response already serialized on a worker thread; ``grpc_errors.handler`` only asks for its bytes."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def SerializeToString(self) -> bytes:  # noqa: N802 (protobuf's name)
        return self.body


def generic_handler(engine: Engine, tracker: InFlight) -> grpc.GenericRpcHandler:
    """The service's method table, for ``grpc_api.start_grpc`` to add beside TF Serving's."""
    service = InferenceService(engine, tracker)
    methods = {
        "ServerLive": pb.ServerLiveRequest,
        "ServerReady": pb.ServerReadyRequest,
        "ModelReady": pb.ModelReadyRequest,
        "ServerMetadata": pb.ServerMetadataRequest,
        "ModelMetadata": pb.ModelMetadataRequest,
        "ModelInfer": pb.ModelInferRequest,
        "ModelConfig": pb.ModelConfigRequest,
        "RepositoryIndex": pb.RepositoryIndexRequest,
        "RepositoryModelLoad": pb.RepositoryModelLoadRequest,
        "RepositoryModelUnload": pb.RepositoryModelUnloadRequest,
    }
    return grpc.method_handlers_generic_handler(
        SERVICE, {method: handler(getattr(service, method), message, INFER_RAW_PATHS if method == "ModelInfer" else ())
                  for method, message in methods.items()}
    )
