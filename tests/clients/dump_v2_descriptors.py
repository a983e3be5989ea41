"""Prints tritonclient's official KServe v2 descriptors as JSON (run with ``.venv-v2clients``' Python).

tritonclient's generated ``service_pb2`` (grpc_service.proto) and ``model_config_pb2`` register
``inference.*`` in protobuf's default pool, where kserve's clash with them; this runs in its own
process. The walk is ``dump_tfs_descriptors.describe``, the same one the test runs on our pool.
"""

from __future__ import annotations

import json
import sys

try:
    from tests.clients.dump_tfs_descriptors import describe
except ImportError:  # run as a script: this folder is sys.path[0]
    from dump_tfs_descriptors import describe  # type: ignore[no-redef]

# The request and response of every method ovserve declares.
ROOTS = tuple(
    f"inference.{name}{kind}"
    for name in ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer", "ModelConfig",
                 "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload")
    for kind in ("Request", "Response")
)
SERVICES = ("inference.GRPCInferenceService",)


def main() -> None:
    from google.protobuf import descriptor_pool
    from tritonclient.grpc import model_config_pb2, service_pb2  # noqa: F401  (registering them is the point)

    json.dump(describe(descriptor_pool.Default(), ROOTS, SERVICES), sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
