"""JSON schemas for KServe's ServingRuntime (v1alpha1) and InferenceService (v1beta1), for the examples in kserve/.

kubernetes-validate knows Kubernetes' own kinds only. These schemas are written from the CRDs' field lists
(KServe's config/crd/full/serving.kserve.io_{servingruntimes,inferenceservices}.yaml) and its protocol names
(pkg/constants: v1, v2, grpc-v1, grpc-v2). Where the CRD embeds Kubernetes types (a Container, a PodSpec's
fields, Volumes, ResourceRequirements) the schema refers to kubernetes-validate's strict definitions of that
Kubernetes version, so a misspelt field anywhere fails as it would against the cluster's CRD.
"""

from __future__ import annotations

import copy
import json
from importlib import resources

import jsonschema
from referencing import Registry, Resource

DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
PROTOCOLS = ["v1", "v2", "grpc-v1", "grpc-v2"]
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _definitions(version: str) -> dict:
    major_minor = ".".join(version.split(".")[:2])
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{major_minor}.0-local-strict"
    return json.loads((folder / "_definitions.json").read_text())


def _ref(name: str) -> dict:
    return {"$ref": f"{DEFINITIONS_ID}#/$defs/io.k8s.{name}"}


def _copied(properties: dict) -> dict:
    """Properties taken from the definitions, their local refs ("#/$defs/…") pointed back at the definitions."""
    def rebased(node):
        if isinstance(node, dict):
            return {key: (DEFINITIONS_ID + value if key == "$ref" and value.startswith("#") else rebased(value))
                    for key, value in node.items()}
        return [rebased(item) for item in node] if isinstance(node, list) else node

    return rebased(copy.deepcopy(properties))


def _serving_runtime_spec() -> dict:
    model_format = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
        "name": {"type": "string"}, "version": {"type": "string"}, "autoSelect": {"type": "boolean"},
        "priority": {"type": "integer", "minimum": 1}}}
    return {"type": "object", "required": ["containers"], "additionalProperties": False, "properties": {
        "supportedModelFormats": {"type": "array", "items": model_format},
        "protocolVersions": {"type": "array", "items": {"enum": PROTOCOLS}},
        "multiModel": {"type": "boolean"}, "disabled": {"type": "boolean"}, "replicas": {"type": "integer"},
        "grpcEndpoint": {"type": "string"}, "grpcDataEndpoint": {"type": "string"}, "httpDataEndpoint": {"type": "string"},
        "annotations": STRING_MAP, "labels": STRING_MAP, "nodeSelector": STRING_MAP,
        "containers": {"type": "array", "minItems": 1, "items": _ref("api.core.v1.Container")},
        "volumes": {"type": "array", "items": _ref("api.core.v1.Volume")},
        "tolerations": {"type": "array", "items": _ref("api.core.v1.Toleration")},
        "affinity": _ref("api.core.v1.Affinity"),
        "imagePullSecrets": {"type": "array", "items": _ref("api.core.v1.LocalObjectReference")},
        "storageHelper": {"type": "object", "additionalProperties": False, "properties": {"disabled": {"type": "boolean"}}},
        "builtInAdapter": {"type": "object"}, "workerSpec": {"type": "object"}, "resourceClaims": {"type": "array"},
        "hostIPC": {"type": "boolean"}, "schedulerName": {"type": "string"},
    }}


def _model_spec(definitions: dict) -> dict:
    """KServe's ModelSpec: a Container's fields (none required) plus the model's format, runtime and storage."""
    container = definitions["$defs"]["io.k8s.api.core.v1.Container"]
    properties = _copied(container["properties"])
    properties.update({
        "modelFormat": {"type": "object", "required": ["name"], "additionalProperties": False,
                        "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
        "runtime": {"type": "string"}, "runtimeVersion": {"type": "string"},
        "protocolVersion": {"enum": PROTOCOLS}, "storageUri": {"type": "string"}, "storage": {"type": "object"},
    })
    return {"type": "object", "required": ["modelFormat"], "additionalProperties": False, "properties": properties}


def _predictor_spec(definitions: dict) -> dict:
    """KServe's PredictorSpec: a PodSpec's fields (none required), the component extension and the model."""
    pod = definitions["$defs"]["io.k8s.api.core.v1.PodSpec"]
    properties = _copied(pod["properties"])
    properties.update({
        "minReplicas": {"type": "integer", "minimum": 0}, "maxReplicas": {"type": "integer", "minimum": 0},
        "scaleTarget": {"type": "integer"}, "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
        "scaleMetricType": {"type": "string"}, "containerConcurrency": {"type": "integer"}, "timeout": {"type": "integer"},
        "canaryTrafficPercent": {"type": "integer"}, "labels": STRING_MAP, "annotations": STRING_MAP,
        "logger": {"type": "object"}, "batcher": {"type": "object"}, "deploymentStrategy": {"type": "object"},
        "autoScaling": {"type": "object"}, "storageUris": {"type": "array"}, "workerSpec": {"type": "object"},
        "model": _model_spec(definitions),
        **{framework: {"type": "object"} for framework in (
            "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "pmml", "lightgbm", "paddle")},
    })
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _kind_schema(api_version: str, kind: str, spec: dict) -> dict:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
            "properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                           "metadata": _ref("apimachinery.pkg.apis.meta.v1.ObjectMeta"), "spec": spec,
                           "status": {"type": "object"}}}


def validate(item: dict, kubernetes_version: str) -> None:
    """Raise jsonschema.ValidationError unless ``item`` is a valid ServingRuntime or InferenceService."""
    definitions = _definitions(kubernetes_version)
    schemas = {
        ("serving.kserve.io/v1alpha1", "ServingRuntime"): _serving_runtime_spec(),
        ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): _serving_runtime_spec(),
        ("serving.kserve.io/v1beta1", "InferenceService"): {
            "type": "object", "required": ["predictor"], "additionalProperties": False,
            "properties": {"predictor": _predictor_spec(definitions), "transformer": {"type": "object"},
                           "explainer": {"type": "object"}, "canary": {"type": "object"}}},
    }
    key = (item.get("apiVersion"), item.get("kind"))
    if key not in schemas:
        raise jsonschema.ValidationError(f"no KServe schema for {key}")
    registry = Resource.from_contents(definitions) @ Registry()
    jsonschema.Draft202012Validator(_kind_schema(*key, schemas[key]), registry=registry).validate(item)
