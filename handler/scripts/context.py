"""The ``context`` a script receives with each request.

Its fields are AWS's TF Serving container's ``Context`` namedtuple, in its
order: ``model_name``, ``model_version``, ``method``, ``rest_uri``,
``grpc_port``, ``channel``, ``custom_attributes``, ``request_content_type``,
``accept_header``, ``content_length``. ``rest_uri`` is the TF Serving REST URL
the request is for (``http://127.0.0.1:<port>/v1/models/<m>[/versions/<v>]:<method>``),
which answers for real; ``grpc_port`` the TF Serving gRPC port, as text;
``channel`` a gRPC channel to it on single-model endpoints (AWS's, too).

Two differences, both deliberate: ``model_name`` is always the model the
request is for (AWS leaves it None unless ``tfs-model-name`` or a multi-model
load named it) and ``method`` is ``predict`` when the custom attributes name none.

Scripts written for the SageMaker inference toolkit read their context
through Multi Model Server's methods (``get_request_header``,
``request_processor[0].get_request_properties()``, ``system_properties``);
those work on the same object, with this request's headers: the toolkit hands
every request the first request's context, a known complaint (custom
attributes out of reach), which this does not repeat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote

DEFAULT_TYPE = "application/json"  # AWS's default for both headers
_TFS_ATTRIBUTE = re.compile(r"tfs-[a-z\-]+=[^,]+")  # AWS's own pattern for the keys it reads


def tfs_attributes(header: str | None) -> dict[str, str]:
    """The ``tfs-*`` keys of ``X-Amzn-SageMaker-Custom-Attributes``, read as AWS's container reads them."""
    found: dict[str, str] = {}
    for match in _TFS_ATTRIBUTE.findall(header or ""):
        key, _, value = match.partition("=")
        found[key] = value.strip()
    return found


def rest_uri(rest_base: str | None, model: str, version: str | None, method: str) -> str | None:
    """The TF Serving REST URL of the request's model, version and method; None without a loopback server."""
    if rest_base is None:
        return None
    uri = f"{rest_base}/v1/models/{quote(model, safe='')}"
    if version:
        uri += f"/versions/{quote(version, safe='')}"
    return f"{uri}:{method}"


class _Fields(NamedTuple):
    model_name: str | None
    model_version: str | None
    method: str | None
    rest_uri: str | None
    grpc_port: str | None
    channel: Any
    custom_attributes: str | None
    request_content_type: str
    accept_header: str
    content_length: int


class _RequestProcessor:
    """What Multi Model Server's request processor offers a script: the request's headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def get_request_properties(self) -> dict[str, str]:
        return dict(self._headers)

    def get_request_property(self, key: str) -> str | None:
        return _lookup(self._headers, key)


def _lookup(headers: Mapping[str, str], key: str) -> str | None:
    wanted = key.lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            return value
    return None


class Context(_Fields):
    """AWS's TF Serving ``Context`` fields, plus the toolkit's accessors for the same request."""

    _headers: Mapping[str, str] = MappingProxyType({})  # per instance once set; class defaults keep _make() copies usable
    _model_dir: str | None = None

    def __new__(cls, *fields: Any, headers: Mapping[str, str] | None = None, model_dir: str | None = None) -> Context:
        context = super().__new__(cls, *fields)
        context._headers = dict(headers or {})
        context._model_dir = model_dir
        return context

    def _replace(self, **changes: Any) -> Context:
        """A copy with ``changes`` (namedtuple's), keeping this request's headers."""
        replaced = super()._replace(**changes)
        replaced.__dict__.update(self.__dict__)
        return replaced

    @property
    def system_properties(self) -> dict[str, Any]:
        """Multi Model Server's: where the model is; no GPU here."""
        return {"model_dir": self._model_dir, "gpu_id": None, "server_name": "ovserve"}

    @property
    def request_processor(self) -> list[_RequestProcessor]:
        return [_RequestProcessor(self._headers)]

    def get_request_header(self, idx: int, key: str) -> str | None:
        """A header of this request (``idx`` is the batch position, always 0 here)."""
        return _lookup(self._headers, key)

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return dict(self._headers)

    def set_response_content_type(self, idx: int, value: str) -> None:
        """Sets the answer's Content-Type, as the toolkit lets ``transform_fn`` do."""
        self.__dict__.setdefault("_response_types", {})[idx] = value

    def get_response_content_type(self, idx: int) -> str | None:
        return self.__dict__.get("_response_types", {}).get(idx)

    @property
    def chosen_content_type(self) -> str | None:
        """The Content-Type a script set with ``set_response_content_type``, if any."""
        return self.get_response_content_type(0)


def request_context(
    *,
    model: str,
    headers: Mapping[str, str],
    content_length: int,
    rest_base: str | None,
    grpc_port: int | None,
    channel: Any = None,
    model_dir: str | None = None,
    model_fixed: bool = False,
) -> Context:
    """One request's context. ``model`` is the model it is for: fixed by a multi-model path (``model_fixed``),
    else the default that ``tfs-model-name`` overrides here. ``headers`` are the request's (any case)."""
    attributes_header = _lookup(headers, "x-amzn-sagemaker-custom-attributes")
    attributes = tfs_attributes(attributes_header)
    name = model if model_fixed else attributes.get("tfs-model-name") or model
    version = attributes.get("tfs-model-version") or None
    method = attributes.get("tfs-method") or "predict"
    return Context(
        name,
        version,
        method,
        rest_uri(rest_base, name, version, method),
        str(grpc_port) if grpc_port else None,
        channel,
        attributes_header,
        _lookup(headers, "content-type") or DEFAULT_TYPE,
        _lookup(headers, "accept") or DEFAULT_TYPE,
        content_length,
        headers=headers,
        model_dir=model_dir,
    )


def startup_context(model: str, model_dir: str | None, rest_base: str | None, grpc_port: int | None, channel: Any = None) -> Context:
    """What ``model_fn`` gets when it takes a context: the model's, with no request."""
    return Context(model, None, "predict", rest_uri(rest_base, model, None, "predict"), str(grpc_port) if grpc_port else None,
                   channel, None, DEFAULT_TYPE, DEFAULT_TYPE, 0, model_dir=model_dir)
