"""Which API and method a REST path is, in OpenVINO Model Server's metric labels.

OVMS counts each request under ``api`` and ``method``: TF Serving's
``Predict``, ``GetModelMetadata``, ``GetModelStatus`` and KServe's
``ModelInfer``, ``ModelMetadata``, ``ModelReady``; ovserve adds KServe's
``ModelConfig`` and SageMaker's ``Invocations``. A path that is none of them
(health probes, ``/v1/config``, the repository extension) gets empty labels,
and the engine never notes a model for it, so it is not counted: only
requests that reach one model are, as in OVMS. The path is read raw (still
percent-encoded): a ``%3A`` before ``predict`` is decoded first, as the
router decodes it.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..request_context import KSERVE, SAGEMAKER, TFS
from .url_path import decode_path

NONE = ("", "")


def rest_labels(path: str) -> tuple[str, str]:
    """(api, method) of a TF Serving or KServe v2 REST path, or empty ones."""
    if "%" in path:
        try:
            path = decode_path(path)
        except InvalidInput:  # the route answers 400 for it; uncounted
            return NONE
    path = path.rstrip("/")
    if path.startswith("/v1/models/"):
        if path.endswith(":predict"):
            return TFS, "Predict"
        if path.endswith("/metadata"):
            return TFS, "GetModelMetadata"
        return (TFS, "GetModelStatus") if ":" not in path else NONE
    if path.startswith("/v2/models/"):
        tail = path[len("/v2/models/"):].split("/")
        if tail[-1] == "infer":
            return KSERVE, "ModelInfer"
        if tail[-1] == "ready":
            return KSERVE, "ModelReady"
        if tail[-1] == "config":
            return KSERVE, "ModelConfig"
        if len(tail) == 1 or (len(tail) == 3 and tail[1] == "versions"):
            return KSERVE, "ModelMetadata"
    return NONE


def sagemaker_labels(path: str) -> tuple[str, str]:
    """(api, method) on SageMaker's port: ``/invocations`` and a multi-model endpoint's ``/models/{m}/invoke``."""
    if path == "/invocations" or (path.startswith("/models/") and path.endswith("/invoke")):
        return SAGEMAKER, "Invocations"
    return NONE
