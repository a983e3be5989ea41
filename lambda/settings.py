"""Lambda-mode settings, all from the environment (a Lambda function has nothing else).

Model flags read ``OVSERVE_<FLAG>`` as everywhere; ``MODEL_PATH`` and
``MODEL_NAME`` work too, because that is what Lambda users set. The model
folder defaults to ``/opt/ml/model`` (baked into the image) and may be
``s3://…`` (downloaded once into ``/tmp``). Everything written goes under
``/tmp``: the rest of a Lambda filesystem is read-only and the user is not
root. Other variables: ``PRELOAD`` (compile during init), ``OVSERVE_MAX_PAYLOAD_MB``
(6, Lambda's synchronous limit), ``OVSERVE_DEFAULT_ACCEPT``, and for S3 events
``OVSERVE_OUTPUT_BUCKET`` (default: the input's), ``OVSERVE_OUTPUT_PREFIX``
(default ``ovserve-output/``), ``OVSERVE_MAX_OBJECT_MB`` (512, any object),
``OVSERVE_MAX_DOCUMENT_MB`` (64, a ``.json`` object that is one document, or an
image, and so is read whole) and ``OVSERVE_S3_CHUNK_MB`` (4, the records streamed per step). Metrics:
``OVSERVE_EMF_NAMESPACE`` (unset: off) and ``OVSERVE_EMF_DIMENSIONS`` (``model,version``), see ``emf``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace

from ovserve.handler.codecs import media_types
from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.model_location import with_model_location
from ovserve.handler.settings.server import gather_values, models_from_values
from ovserve.handler.settings.values import fail, parse_bool, parse_int

from .emf import EmfSettings, settings_from
from .response_size import LAMBDA_RESPONSE_BYTES

SCRATCH = "/tmp/ovserve"
MIB = 1024 * 1024
_PLAIN = {"model_path": "MODEL_PATH", "model_name": "MODEL_NAME"}


@dataclass(frozen=True)
class LambdaSettings:
    """What the handler needs, validated at init."""

    models: tuple[ModelConfig, ...]
    preload: bool = False
    max_payload_bytes: int = 6 * 1024 * 1024
    max_response_bytes: int = 6 * 1024 * 1024  # of the serialised response document; at most Lambda's 6,291,556
    default_accept: str = media_types.JSON
    storage_cache_dir: str = f"{SCRATCH}/models"
    output_bucket: str | None = None
    output_prefix: str = "ovserve-output/"
    log_level: str = "INFO"
    max_object_bytes: int = 512 * MIB  # any S3 batch object
    max_document_bytes: int = 64 * MIB  # a .json object that is one TF Serving document, or an image: read whole
    chunk_bytes: int = 4 * MIB  # CSV/JSON Lines records read, inferred and written per step
    emf: EmfSettings | None = None  # one CloudWatch metrics line per invocation; None: off


def writable_home(environ: MutableMapping[str, str]) -> None:
    """Point HOME at /tmp when it is missing or read-only: some libraries write there on import."""
    home = environ.get("HOME", "")
    if not home or not os.access(home, os.W_OK):
        environ["HOME"] = "/tmp"


def load(environ: Mapping[str, str] | None = None) -> LambdaSettings:
    """Validate the environment; ConfigError names the variable at fault."""
    environ = os.environ if environ is None else environ
    values = gather_values([], environ)
    for flag, variable in _PLAIN.items():
        if not values.get(flag) and environ.get(variable):
            values[flag] = environ[variable]
    values.setdefault("cache_dir", f"{SCRATCH}/cache")
    models = models_from_values(with_model_location(values))
    preload = parse_bool("PRELOAD", values.get("preload", "false"))
    models = tuple(replace(m, preload=False) for m in models)  # the handler decides when to compile
    payload_mb = parse_int("OVSERVE_MAX_PAYLOAD_MB", environ.get("OVSERVE_MAX_PAYLOAD_MB", "") or "6", minimum=1, maximum=1024)
    accept = environ.get("OVSERVE_DEFAULT_ACCEPT", "") or media_types.JSON
    if media_types.canonical(accept) is None:
        raise fail("OVSERVE_DEFAULT_ACCEPT", f"one of {', '.join(media_types.SUPPORTED)}", accept)
    prefix = environ.get("OVSERVE_OUTPUT_PREFIX", "ovserve-output/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not prefix:
        raise ConfigError("OVSERVE_OUTPUT_PREFIX: empty; expected a prefix such as ovserve-output/, so outputs never land "
                          "where inputs trigger the function")
    level = (values.get("log_level") or "INFO").upper()
    object_mb = parse_int("OVSERVE_MAX_OBJECT_MB", environ.get("OVSERVE_MAX_OBJECT_MB") or "512", minimum=1, maximum=10_240)
    document_mb = parse_int("OVSERVE_MAX_DOCUMENT_MB", environ.get("OVSERVE_MAX_DOCUMENT_MB") or "64", minimum=1,
                            maximum=10_240)
    chunk_mb = parse_int("OVSERVE_S3_CHUNK_MB", environ.get("OVSERVE_S3_CHUNK_MB") or "4", minimum=1, maximum=1024)
    return LambdaSettings(
        models=models,
        preload=preload,
        max_payload_bytes=payload_mb * 1024 * 1024,
        max_response_bytes=min(payload_mb * 1024 * 1024, LAMBDA_RESPONSE_BYTES),
        default_accept=media_types.canonical(accept) or media_types.JSON,
        storage_cache_dir=values.get("storage_cache_dir") or f"{SCRATCH}/models",
        output_bucket=environ.get("OVSERVE_OUTPUT_BUCKET") or None,
        output_prefix=prefix,
        log_level=level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO",
        max_object_bytes=object_mb * MIB,
        max_document_bytes=document_mb * MIB,
        chunk_bytes=chunk_mb * MIB,
        emf=settings_from(environ.get("OVSERVE_EMF_NAMESPACE", ""), environ.get("OVSERVE_EMF_DIMENSIONS", ""),
                          environ.get("AWS_LAMBDA_FUNCTION_NAME", "")),
    )
