"""Server settings from CLI flags and the environment, validated in one place.

The flags are OVMS's (see ``parameters.md``): ``--model_name/--model_path`` or
``--config_path``, ports, bind addresses, workers, reshape options, logging.
Every flag can also come from the environment as ``OVSERVE_<FLAG>``; the
variables OVMS itself reads (``FILE_SYSTEM_POLL_WAIT_SECONDS``, ``LOG_LEVEL``,
``LOG_PATH``) work too. A flag on the command line wins over the environment.
Nothing reads the environment anywhere else (the cloud SDKs' own variables
aside): limits such as ``OVSERVE_MAX_RECORDS_PER_BATCH`` are flags too, so a
bad value stops every front end at start-up with one line, never at import.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..batching_settings import BatchingSettings, from_text_file
from ..codecs.images import DEFAULT_MAX_PIXELS
from ..errors import ConfigError
from .config import (
    CLI_NAMES,
    DEFAULT_MAX_ARCHIVE_BYTES,
    DEFAULT_MAX_RECORDS_PER_BATCH,
    ModelConfig,
    load_config_file,
    model_config_from_mapping,
)
from .observability import MetricsSettings, access_log_level, metrics_port_problem, metrics_settings
from .values import fail, parse_bool, parse_int

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server process needs, already validated."""

    models: tuple[ModelConfig, ...]
    config_path: str | None = None
    port: int = 9000
    grpc_bind_address: str = "0.0.0.0"
    grpc_workers: int = 1
    grpc_channel_arguments: dict[str, str] = field(default_factory=dict)
    rest_port: int = 0
    rest_bind_address: str = "0.0.0.0"
    rest_workers: int = 1
    rest_max_body_mb: int = 64
    rest_max_response_mb: int = 256  # largest answer, estimated from the outputs before encoding
    log_level: str = "INFO"
    log_path: str | None = None
    file_system_poll_wait_seconds: int = 1
    cpu_extension: str | None = None
    shutdown_timeout_seconds: float = 25.0
    storage_cache_dir: str | None = None
    metrics: MetricsSettings = field(default_factory=MetricsSettings)  # GET /metrics (settings/observability.py)
    access_log: str = "DEBUG"  # the level access lines are written at, or OFF (handler/access_log.py)


class _Parser(argparse.ArgumentParser):
    """argparse that reports one line through ConfigError instead of usage + exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"command line: {message}")


# (flag, help). Values stay text here and are validated below, so every message has one shape.
_FLAGS: tuple[tuple[str, str], ...] = (
    ("model_name", "name the model is served under (with --model_path)"),
    ("model_path", "folder (or URL) holding numbered version folders"),
    ("config_path", "OVMS config.json with model_config_list (instead of --model_name)"),
    ("port", "gRPC port (default 9000)"),
    ("grpc_bind_address", "gRPC bind address (default 0.0.0.0)"),
    ("grpc_workers", "gRPC server instances (default 1)"),
    ("grpc_channel_arguments", "gRPC channel arguments, e.g. grpc.max_connection_age_ms=2000"),
    ("rest_port", "REST port; 0 disables REST (default 0)"),
    ("rest_bind_address", "REST bind address (default 0.0.0.0)"),
    ("rest_workers", "accepted for OVMS compatibility; one event loop serves REST"),
    ("rest_max_body_mb", "largest REST request body in MiB (default 64)"),
    ("rest_max_response_mb", "largest answer in MiB, estimated from the outputs before encoding (default 256)"),
    ("batch_size", "batch size: an integer or auto"),
    ("shape", "input shape: (1,3,224,224), {\"in\": \"(1,3,-1,-1)\"} or auto"),
    ("layout", "input/output layout: NHWC, NHWC:NCHW or {\"name\": \"NHWC\"}"),
    ("model_version_policy", "JSON version policy, e.g. {\"latest\": {\"num_versions\": 2}}"),
    ("nireq", "parallel inference requests per version; 0 = what the device suggests"),
    ("target_device", "OpenVINO device (default CPU)"),
    ("plugin_config", "JSON object of OpenVINO properties"),
    ("cache_dir", "compiled-model cache folder (speeds up later starts)"),
    ("storage_cache_dir", "where models from s3:// are mirrored (default: a folder under the system temp dir)"),
    ("max_queued_requests", "requests allowed to wait for a free inference slot per version (default 128)"),
    ("log_level", "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    ("log_path", "write logs to this file instead of stderr"),
    ("file_system_poll_wait_seconds", "seconds between model folder scans; 0 disables (default 1)"),
    ("cpu_extension", "shared library with custom OpenVINO operations"),
    ("sequence_cleaner_poll_wait_minutes", "accepted for OVMS compatibility; no stateful models here"),
    ("shutdown_timeout_seconds", "how long SIGTERM waits for in-flight requests (default 25, inside SageMaker's 30)"),
    ("max_records_per_batch", f"most records per inference for models of any batch size (default {DEFAULT_MAX_RECORDS_PER_BATCH})"),
    ("max_archive_bytes", f"largest total size of a model.tar.gz's files (default {DEFAULT_MAX_ARCHIVE_BYTES}, 20 GiB)"),
    ("max_image_pixels", f"largest width x height an image may declare, checked before decoding (default {DEFAULT_MAX_PIXELS})"),
    ("image", 'how images become the input: {"color": "RGB", "mean": [...], "scale": [...], "resize": "linear"}'),
    ("batching_parameters_file", "TF Serving BatchingParameters text file (with --enable_batching)"),
    ("metrics_list", "comma-separated metric families to report instead of the default set (with --metrics_enable)"),
    ("access_log", "level of the one access line per request: DEBUG (default), INFO, WARNING or OFF"),
)
_BOOL_FLAGS: tuple[tuple[str, str], ...] = (
    ("preload", "read and compile every model at start-up instead of on first use"),
    ("enable_batching", "merge concurrent requests into one inference, for every model without its own \"batching\""),
    ("metrics_enable", "serve Prometheus metrics at GET /metrics on the REST port"),
)
# Variables OVMS reads without a prefix.
_PLAIN_ENV = {
    "file_system_poll_wait_seconds": "FILE_SYSTEM_POLL_WAIT_SECONDS",
    "log_level": "LOG_LEVEL",
    "log_path": "LOG_PATH",
    "preload": "PRELOAD",
}


def build_parser(prog: str = "ovserve") -> argparse.ArgumentParser:
    """The CLI, shared by every entry point that takes OVMS flags."""
    parser = _Parser(prog=prog, description="OpenVINO model server with the TF Serving API.")
    for name, help_text in _FLAGS:
        parser.add_argument(f"--{name}", help=help_text, default=None)
    for name, help_text in _BOOL_FLAGS:
        parser.add_argument(f"--{name}", help=help_text, action="store_const", const="true", default=None)
    return parser


def _gather(argv: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Flag values from the command line, else from the environment."""
    given = vars(build_parser().parse_args(list(argv)))
    values: dict[str, str] = {}
    for name in [f for f, _ in _FLAGS] + [f for f, _ in _BOOL_FLAGS]:
        if given.get(name) is not None:
            values[name] = given[name]
            continue
        for variable in (f"OVSERVE_{name.upper()}", _PLAIN_ENV.get(name)):
            if variable and environ.get(variable, "") != "":
                values[name] = environ[variable]
                break
    return values


def _parse_channel_arguments(value: str | None) -> dict[str, str]:
    """``key=value,key=value`` as OVMS takes them."""
    if not value:
        return {}
    result: dict[str, str] = {}
    for pair in value.split(","):
        key, sep, setting = pair.partition("=")
        if not sep or not key.strip():
            raise fail("--grpc_channel_arguments", "key=value pairs separated by commas", value)
        result[key.strip()] = setting.strip()
    return result


MAX_RECORDS_PER_BATCH_LIMIT = 1_000_000
MAX_ARCHIVE_BYTES_LIMIT = 1 << 50  # 1 PiB: any larger number is a typo
MAX_IMAGE_PIXELS_LIMIT = 1 << 34  # 17 gigapixels: a uint8 RGB image that size is 51 GB, beyond any request's budget
MODEL_FLAGS = ("batch_size", "shape", "layout", "model_version_policy", "nireq", "target_device", "plugin_config", "image")


def gather_values(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Flag values as text: the command line first, then ``OVSERVE_<FLAG>`` and OVMS's own variables."""
    return _gather(argv, os.environ if environ is None else environ)


def server_batching(values: Mapping[str, str]) -> BatchingSettings | None:
    """TF Serving's ``--enable_batching`` / ``--batching_parameters_file``: the batching of models without their own key.

    As in TF Serving, the file without the flag is an error (it would be ignored
    silently); the flag without a file means the defaults (``BatchingSettings()``).
    """
    enabled = parse_bool("--enable_batching", values.get("enable_batching", "false"))
    path = values.get("batching_parameters_file")
    if path and not enabled:
        raise ConfigError("--batching_parameters_file: given without --enable_batching; expected both, or neither")
    if not enabled:
        return None
    return from_text_file(path) if path else BatchingSettings(where="--enable_batching")


def shared_model_defaults(values: Mapping[str, str], batching: BatchingSettings | None = None) -> dict:
    """Server-wide model defaults, checked under their flag names before any model sees them.

    ``batching``: a front end's own server-wide batching (SageMaker's variables), used instead of the flags when set.
    """
    return {
        "batching": batching or server_batching(values),
        "cache_dir": values.get("cache_dir") or None,
        "preload": parse_bool("--preload", values.get("preload", "false")),
        "max_queued_requests": parse_int(
            "--max_queued_requests", values.get("max_queued_requests", "128"), minimum=1, maximum=1_000_000
        ),
        "max_records_per_batch": parse_int(
            "--max_records_per_batch", values.get("max_records_per_batch", str(DEFAULT_MAX_RECORDS_PER_BATCH)),
            minimum=1, maximum=MAX_RECORDS_PER_BATCH_LIMIT,
        ),
        "max_archive_bytes": parse_int(
            "--max_archive_bytes", values.get("max_archive_bytes", str(DEFAULT_MAX_ARCHIVE_BYTES)),
            minimum=1, maximum=MAX_ARCHIVE_BYTES_LIMIT,
        ),
        "max_image_pixels": parse_int(
            "--max_image_pixels", values.get("max_image_pixels", str(DEFAULT_MAX_PIXELS)),
            minimum=1, maximum=MAX_IMAGE_PIXELS_LIMIT,
        ),
    }


def model_template(
    values: Mapping[str, str], name: str = "model", base_path: str = ".", batching: BatchingSettings | None = None
) -> ModelConfig:
    """A model configured by the command-line model flags alone (for models added later, e.g. multi-model endpoints)."""
    raw = {"name": name, "base_path": base_path, **{flag: values[flag] for flag in MODEL_FLAGS if flag in values}}
    return model_config_from_mapping("--", raw, shared_model_defaults(values, batching), CLI_NAMES)


def models_from_values(values: Mapping[str, str], batching: BatchingSettings | None = None) -> tuple[ModelConfig, ...]:
    """The served models: ``--config_path``'s list, or the one ``--model_name``/``--model_path`` names."""
    shared = shared_model_defaults(values, batching)
    if values.get("config_path"):
        clashing = [f for f in ("model_name", "model_path", *MODEL_FLAGS) if f in values]
        if clashing:
            raise ConfigError(
                f"--{clashing[0]}: not allowed with --config_path; expected model settings inside the config file"
            )
        return tuple(load_config_file(values["config_path"], shared))
    if values.get("model_name") or values.get("model_path"):
        if not values.get("model_name"):
            raise ConfigError("--model_name: missing; expected a name to serve --model_path under")
        if not values.get("model_path"):
            raise ConfigError("--model_path: missing; expected the folder holding the model's version folders")
        return (model_template(values, values["model_name"], values["model_path"], batching),)
    raise ConfigError("--model_name/--model_path or --config_path: missing; expected one of them")


def load_settings(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> ServerSettings:
    """Parse and validate everything; raises ConfigError with one line naming the key."""
    values = gather_values(argv, environ)
    settings = settings_from_values(values, models_from_values(values))
    problem = metrics_port_problem(settings.metrics, settings.rest_port)
    if problem is not None:
        raise problem
    return settings


def settings_from_values(values: Mapping[str, str], models: tuple[ModelConfig, ...]) -> ServerSettings:
    """Server-wide settings from gathered flag values, around already-validated ``models``."""
    log_level = values.get("log_level", "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise fail("--log_level", " or ".join(LOG_LEVELS), values["log_level"])
    timeout = values.get("shutdown_timeout_seconds", "25")
    try:
        shutdown_timeout = float(timeout)
    except ValueError:
        raise fail("--shutdown_timeout_seconds", "a number of seconds from 0 to 3600", timeout) from None
    if not 0 <= shutdown_timeout <= 3600:
        raise fail("--shutdown_timeout_seconds", "a number of seconds from 0 to 3600", timeout)
    if "sequence_cleaner_poll_wait_minutes" in values:
        parse_int("--sequence_cleaner_poll_wait_minutes", values["sequence_cleaner_poll_wait_minutes"], minimum=0)
    cores = os.cpu_count() or 1
    return ServerSettings(
        models=models,
        config_path=values.get("config_path"),
        port=parse_int("--port", values.get("port", "9000"), minimum=0, maximum=65535),
        grpc_bind_address=values.get("grpc_bind_address", "0.0.0.0"),
        grpc_workers=parse_int("--grpc_workers", values.get("grpc_workers", "1"), minimum=1, maximum=max(cores, 1)),
        grpc_channel_arguments=_parse_channel_arguments(values.get("grpc_channel_arguments")),
        rest_port=parse_int("--rest_port", values.get("rest_port", "0"), minimum=0, maximum=65535),
        rest_bind_address=values.get("rest_bind_address", "0.0.0.0"),
        rest_workers=parse_int("--rest_workers", values.get("rest_workers", "1"), minimum=1, maximum=10_000),
        rest_max_body_mb=parse_int("--rest_max_body_mb", values.get("rest_max_body_mb", "64"), minimum=1, maximum=4096),
        rest_max_response_mb=parse_int(
            "--rest_max_response_mb", values.get("rest_max_response_mb", "256"), minimum=1, maximum=1 << 20
        ),
        log_level=log_level,
        log_path=values.get("log_path") or None,
        file_system_poll_wait_seconds=parse_int(
            "--file_system_poll_wait_seconds", values.get("file_system_poll_wait_seconds", "1"), minimum=0
        ),
        cpu_extension=values.get("cpu_extension") or None,
        shutdown_timeout_seconds=shutdown_timeout,
        storage_cache_dir=values.get("storage_cache_dir") or None,
        metrics=metrics_settings(values),
        access_log=access_log_level(values),
    )

