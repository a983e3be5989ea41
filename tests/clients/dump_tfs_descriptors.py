"""Prints the official tensorflow-serving-api message descriptors as JSON (run with the TF client's Python).

Also importable with our own modules: ``describe(file_descriptors)`` walks any descriptor set,
so the comparison test runs the same walk on both sides.
"""

from __future__ import annotations

import json
import sys

ROOTS = (
    "tensorflow.serving.PredictRequest",
    "tensorflow.serving.PredictResponse",
    "tensorflow.serving.GetModelMetadataRequest",
    "tensorflow.serving.GetModelMetadataResponse",
    "tensorflow.serving.SignatureDefMap",
    "tensorflow.serving.GetModelStatusRequest",
    "tensorflow.serving.GetModelStatusResponse",
    "tensorflow.serving.ReloadConfigRequest",
    "tensorflow.serving.ReloadConfigResponse",
)
SERVICES = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")


def _is_repeated(field) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 6 (``label`` is gone in 7)
        return bool(field.is_repeated)
    return field.label == field.LABEL_REPEATED


def describe(pool, roots=ROOTS, service_names=SERVICES) -> dict:
    """Messages reachable from ``roots`` (fields: number, type, label, type name), enums, service methods."""
    messages: dict = {}
    enums: dict = {}
    pending = [pool.FindMessageTypeByName(name) for name in roots]
    while pending:
        message = pending.pop()
        if message.full_name in messages:
            continue
        fields = {}
        for field in message.fields:
            type_name = ""
            if field.message_type is not None:
                type_name = field.message_type.full_name
                pending.append(field.message_type)
            elif field.enum_type is not None:
                type_name = field.enum_type.full_name
                enums[type_name] = {v.name: v.number for v in field.enum_type.values}
            fields[field.name] = {
                "number": field.number,
                "type": field.type,
                "repeated": _is_repeated(field),
                "type_name": type_name,
                "oneof": field.containing_oneof.name if field.containing_oneof else "",
            }
        messages[message.full_name] = fields
    services = {}
    for name in service_names:
        service = pool.FindServiceByName(name)
        services[name] = {
            m.name: [m.input_type.full_name, m.output_type.full_name] for m in service.methods
        }
    return {"messages": messages, "enums": enums, "services": services}


def main() -> None:
    from google.protobuf import descriptor_pool
    from tensorflow_serving.apis import (  # noqa: F401  (registering them is the point)
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2,
        prediction_service_pb2,
    )

    json.dump(describe(descriptor_pool.Default()), sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
