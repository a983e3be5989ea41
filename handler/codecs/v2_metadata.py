"""What a KServe v2 server says about itself and its models, once for REST, gRPC and Lambda.

``EXTENSIONS`` is the one list of Triton extension names the standalone server
implements, answered by REST ``GET /v2`` and gRPC ServerMetadata alike (as
Triton does: one list per server, not per protocol). ``binary_tensor_data`` is
REST framing (gRPC carries raw bytes natively); ``model_configuration`` is REST
``GET /v2/models/{m}[/versions/{v}]/config`` and gRPC ModelConfig, built from the
same ``model_config`` document; ``model_repository`` is REST ``/v2/repository/...``
and gRPC Repository* (``protocols.v2_repository``). A Lambda function has no
repository to load into, so its ``GET /v2`` leaves that one out
(``server_metadata(repository=False)``). Statistics, shared memory and
classification are not implemented and not listed.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..signature import Signature, TensorSpec
from ..status import AVAILABLE, VersionStatus

SERVER_NAME = "ovserve"
PLATFORM = "openvino"
REPOSITORY_EXTENSION = "model_repository"
EXTENSIONS = ("binary_tensor_data", "model_configuration", REPOSITORY_EXTENSION)
# Triton's model_config.proto DataType names; BYTES is TYPE_STRING there.
CONFIG_TYPES = {
    name: f"TYPE_{'STRING' if name == 'BYTES' else name}"
    for name in ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                 "FP16", "FP32", "FP64", "BYTES", "BF16")
}


def server_metadata(repository: bool = True) -> dict[str, Any]:
    """The server metadata document; ``repository`` False where models cannot be loaded or unloaded (Lambda)."""
    extensions = [name for name in EXTENSIONS if repository or name != REPOSITORY_EXTENSION]
    return {"name": SERVER_NAME, "version": __version__, "extensions": extensions}


def dims(spec: TensorSpec) -> list[int]:
    """A tensor's shape for metadata and config: -1 where not fixed, ``[-1]`` when even the rank is dynamic."""
    return spec.metadata_dims() if spec.shape is not None else [-1]


def tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
    return [{"name": s.name, "datatype": s.dtype.v2_name, "shape": dims(s)} for s in specs]


def served_versions(statuses: list[VersionStatus], used: int) -> list[str]:
    """The versions that can serve now (AVAILABLE), as strings, oldest first; always including the one just used."""
    numbers = {status.version for status in statuses if status.state == AVAILABLE} | {used}
    return [str(number) for number in sorted(numbers)]


def model_metadata(model: str, signature: Signature, served: list[str]) -> dict[str, Any]:
    return {"name": model, "versions": served, "platform": PLATFORM,
            "inputs": tensors(signature.inputs), "outputs": tensors(signature.outputs)}


def model_config(model: str, signature: Signature) -> dict[str, Any]:
    """Triton's ModelConfig for a served version, as its JSON: ``"data_type": "TYPE_FP32"``, dims as numbers (-1 dynamic).

    ``max_batch_size`` 0: ovserve does no Triton-style batching, so dims are full shapes, batch dimension included.
    """
    def entries(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
        return [{"name": s.name, "data_type": CONFIG_TYPES.get(s.dtype.v2_name, "TYPE_INVALID"), "dims": dims(s)} for s in specs]

    return {"name": model, "platform": PLATFORM, "backend": PLATFORM, "max_batch_size": 0,
            "input": entries(signature.inputs), "output": entries(signature.outputs)}
