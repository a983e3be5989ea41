"""SageMaker-mode settings: the platform's variables plus the server's own flags.

SageMaker configures a container through environment variables only, so
every OVMS flag also reads ``OVSERVE_<FLAG>`` (``OVSERVE_PLUGIN_CONFIG``,
``OVSERVE_BATCH_SIZE``…); flags given after ``serve`` win. The platform's
variables: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MAX_PAYLOAD_IN_MB``
(6), ``SAGEMAKER_MULTI_MODEL``, ``SAGEMAKER_BATCH``,
``SAGEMAKER_BATCH_STRATEGY``, ``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS``; and the
toolkit conventions ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` and
``SAGEMAKER_TFS_DEFAULT_MODEL_NAME``; the TF Serving container's batching
variables ``SAGEMAKER_TFS_ENABLE_BATCHING`` and ``SAGEMAKER_TFS_MAX_BATCH_SIZE``
and friends (``batching_settings.from_sagemaker_env``), for every model; for multi-model endpoints
``OVSERVE_MEMORY_RESERVE_MB``, memory kept free when deciding whether a model fits.

The model comes from ``/opt/ml/model`` (``OVSERVE_MODEL_PATH`` moves it): an
OVMS ``config.json`` there serves every model it lists; otherwise the folder
is one model, named ``OVSERVE_MODEL_NAME`` (default ``model``), as version
folders or as bare model files served as version 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ovserve.handler.batching_settings import from_sagemaker_env
from ovserve.handler.codecs import media_types
from ovserve.handler.errors import ConfigError
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.model_location import DEFAULT_DIR, with_model_location
from ovserve.handler.settings.server import ServerSettings, gather_values, model_template, models_from_values, settings_from_values
from ovserve.handler.settings.values import fail, parse_bool, parse_int

MODEL_DIR = DEFAULT_DIR
MAX_PAYLOAD_LIMIT_MB = 100  # batch transform's ceiling for MaxPayloadInMB


@dataclass(frozen=True)
class SageMakerSettings:
    """Everything ``serve`` needs, validated."""

    server: ServerSettings  # models, logging, shutdown timeout, model defaults
    model_template: ModelConfig  # settings for models a multi-model endpoint loads later
    port: int = 8080
    max_payload_mb: int = 6
    multi_model: bool = False
    batch: bool = False
    batch_strategy: str = "MULTI_RECORD"
    max_concurrent_transforms: int = 1
    default_accept: str = media_types.JSON
    default_model: str | None = None
    memory_reserve_mb: int = 0  # memory a multi-model endpoint keeps free when deciding on 507


def _concurrency(environ: Mapping[str, str], max_payload_mb: int) -> int:
    given = environ.get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "")
    if given:
        return parse_int("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", given, minimum=1, maximum=1024)
    # One transform per core keeps every core busy; AWS caps concurrency x payload at 100 MB.
    return max(1, min(os.cpu_count() or 1, MAX_PAYLOAD_LIMIT_MB // max_payload_mb))


def load(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> SageMakerSettings:
    """Validate flags and environment; ConfigError names the variable or flag at fault."""
    environ = os.environ if environ is None else environ
    values = gather_values(argv, environ)
    batching = from_sagemaker_env(environ)  # SAGEMAKER_TFS_*: every model's batching, else the flags'
    multi_model = parse_bool("SAGEMAKER_MULTI_MODEL", environ.get("SAGEMAKER_MULTI_MODEL", "false") or "false")
    if multi_model:
        for flag in ("config_path", "model_name", "model_path"):
            if values.get(flag):
                raise ConfigError(f"--{flag}: not used on a multi-model endpoint; SageMaker loads models through POST /models")
        models: tuple[ModelConfig, ...] = ()
    else:
        values = with_model_location(values, MODEL_DIR)
        models = tuple(replace(m, preload=True) for m in models_from_values(values, batching))  # load starts at once
    values.setdefault("file_system_poll_wait_seconds", "0")  # /opt/ml/model does not change under a running endpoint
    server = settings_from_values(values, models)
    max_payload = parse_int(
        "SAGEMAKER_MAX_PAYLOAD_IN_MB", environ.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "") or "6", minimum=1, maximum=MAX_PAYLOAD_LIMIT_MB
    )
    strategy = (environ.get("SAGEMAKER_BATCH_STRATEGY", "") or "MULTI_RECORD").strip().upper()
    if strategy not in ("MULTI_RECORD", "SINGLE_RECORD"):
        raise fail("SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD or SINGLE_RECORD", strategy)
    accept = environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "") or media_types.JSON
    if media_types.canonical(accept) is None:
        raise fail("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", f"one of {', '.join(media_types.SUPPORTED)}", accept)
    default_model = environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME", "") or None
    if default_model is not None and models and default_model not in {m.name for m in models}:
        raise fail("SAGEMAKER_TFS_DEFAULT_MODEL_NAME", f"one of the served models {[m.name for m in models]}", default_model)
    return SageMakerSettings(
        server=server,
        model_template=model_template(values, batching=batching),
        port=parse_int("SAGEMAKER_BIND_TO_PORT", environ.get("SAGEMAKER_BIND_TO_PORT", "") or "8080", minimum=0, maximum=65535),
        max_payload_mb=max_payload,
        multi_model=multi_model,
        batch=parse_bool("SAGEMAKER_BATCH", environ.get("SAGEMAKER_BATCH", "false") or "false"),
        batch_strategy=strategy,
        max_concurrent_transforms=_concurrency(environ, max_payload),
        default_accept=media_types.canonical(accept) or media_types.JSON,
        default_model=default_model,
        memory_reserve_mb=parse_int("OVSERVE_MEMORY_RESERVE_MB", environ.get("OVSERVE_MEMORY_RESERVE_MB", "") or "0",
                                    minimum=0, maximum=1 << 40),
    )
