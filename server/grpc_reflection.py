"""gRPC server reflection (``grpc.reflection.v1alpha.ServerReflection``), so grpcurl and Postman need no .proto files.

The package's servicer reads one descriptor pool, but ovserve's services live
in two: TF Serving's and KServe v2's in the private pool of
``handler.protos._pool`` (kept apart so a process can load TensorFlow or
ovmsclient beside them), health and reflection in protobuf's default pool,
where their own packages registered them. So reflection gets a pool of its
own, holding exactly the files that declare the served services and the
files those import, copied once at start-up (a few kilobytes).
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor
from grpc_reflection.v1alpha import reflection, reflection_pb2

SERVICE = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]


def pool_for(services: Iterable[ServiceDescriptor]) -> descriptor_pool.DescriptorPool:
    """A new pool with each service's file and, before it, every file it imports, whichever pool they come from."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        pool.AddSerializedFile(file.serialized_pb)
        added.add(file.name)

    for service in services:
        add(service.file)
    return pool


def add_reflection(server: grpc.aio.Server, services: Iterable[ServiceDescriptor]) -> None:
    """Describe ``services`` and reflection itself on ``server``."""
    described = [*services, SERVICE]
    reflection.enable_server_reflection([service.full_name for service in described], server, pool=pool_for(described))
