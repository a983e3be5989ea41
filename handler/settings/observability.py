"""Metrics and access-log settings: ``--metrics_enable``, ``--metrics_list``, config.json ``monitoring``, ``--access_log``.

The metrics rules are OpenVINO Model Server's (serving-features.md A1), with
its words in each message: ``metrics_list`` replaces the default set and
needs ``metrics_enable``; a name that is no family is refused; a config file
with a ``monitoring`` section takes its settings from there, and the flags
beside it are refused as duplicates; ``monitoring`` holds ``metrics``, which
holds ``enable`` and optionally ``metrics_list``, nothing else. The settings
are read once, at start-up. Every flag also reads ``OVSERVE_<FLAG>``
(``OVSERVE_METRICS_ENABLE``, ``OVSERVE_ACCESS_LOG``), which is how a SageMaker
container, configured by environment only, turns them on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import access_log
from ..errors import ConfigError
from ..metrics.families import DEFAULT, SELECTABLE
from .values import fail, parse_bool

CLI_SOURCE = "--metrics_enable"
CONFIG_SOURCE = "monitoring.metrics.enable"


@dataclass(frozen=True)
class MetricsSettings:
    """Whether ``GET /metrics`` reports, and which families; ``source`` is where it was enabled (start-up errors name it)."""

    enabled: bool = False
    families: tuple[str, ...] = DEFAULT
    source: str = CLI_SOURCE


def _names(key: str, names: Sequence[Any]) -> tuple[str, ...]:
    """The families a metrics_list names (an empty list keeps the default set)."""
    chosen: list[str] = []
    for name in names:
        if not isinstance(name, str) or name.strip() not in SELECTABLE:
            shown = name.strip() if isinstance(name, str) else name
            raise fail(key, f"family names from {', '.join(SELECTABLE)} (Invalid name in metrics_list)", shown)
        if name.strip() not in chosen:
            chosen.append(name.strip())
    return tuple(chosen) or DEFAULT


def _monitoring(config_path: str | None) -> Any:
    """config.json's ``monitoring`` value, or None when there is no file or no section (the file is known readable)."""
    if not config_path:
        return None
    try:
        document = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the model settings' own reading of the file reports what is wrong with it
    return document.get("monitoring") if isinstance(document, dict) else None


def _from_config(monitoring: Any) -> MetricsSettings:
    if not isinstance(monitoring, dict) or set(monitoring) != {"metrics"}:
        raise fail("monitoring", 'an object {"metrics": {"enable": true, "metrics_list": [...]}}', monitoring)
    metrics = monitoring["metrics"]
    if not isinstance(metrics, dict) or "enable" not in metrics:
        raise fail("monitoring.metrics", 'an object with "enable" (true or false) and optionally "metrics_list"', metrics)
    unknown = sorted(set(metrics) - {"enable", "metrics_list"})
    if unknown:
        raise ConfigError(f"monitoring.metrics.{unknown[0]}: unknown setting; expected only enable and metrics_list")
    enabled = metrics["enable"]
    if not isinstance(enabled, bool):
        raise fail(CONFIG_SOURCE, "true or false", enabled)
    listed = metrics.get("metrics_list")
    if listed is None:
        return MetricsSettings(enabled, DEFAULT, CONFIG_SOURCE)
    if not isinstance(listed, list):
        raise fail("monitoring.metrics.metrics_list", "a list of family names", listed)
    if not enabled:
        raise ConfigError("monitoring.metrics.metrics_list: metrics_enable setting is missing, required when metrics_list is "
                          "provided; expected \"enable\": true beside it")
    return MetricsSettings(True, _names("monitoring.metrics.metrics_list", listed), CONFIG_SOURCE)


def metrics_settings(values: Mapping[str, str]) -> MetricsSettings:
    """The metrics settings from the flags (or their variables) or from ``--config_path``'s ``monitoring``."""
    enable, listed = values.get("metrics_enable"), values.get("metrics_list")
    monitoring = _monitoring(values.get("config_path"))
    if monitoring is not None:
        if enable is not None or listed is not None:
            flag = "--metrics_enable" if enable is not None else "--metrics_list"
            raise ConfigError(f"{flag}: Metrics configuration duplicated in configuration file and CLI parameters; expected "
                              "the metrics settings in config.json's monitoring section or as flags, not both")
        return _from_config(monitoring)
    enabled = parse_bool("--metrics_enable", enable or "false")
    if listed is None:
        return MetricsSettings(enabled)
    if not enabled:
        raise ConfigError("--metrics_list: metrics_enable setting is missing, required when metrics_list is provided; "
                          "expected --metrics_enable as well")
    return MetricsSettings(True, _names("--metrics_list", listed.split(",")))


def metrics_port_problem(metrics: MetricsSettings, rest_port: int) -> ConfigError | None:
    """What is wrong with enabling metrics on a server without a REST port (OVMS's words), or None."""
    if not metrics.enabled or rest_port:
        return None
    said = ("rest_port setting is missing, metrics are enabled on rest port" if metrics.source == CLI_SOURCE
            else "Missing rest_port parameter in server CLI")
    return ConfigError(f"{metrics.source}: {said}; expected --rest_port as well: GET /metrics is served on the REST port, "
                       "a gRPC-only server (--rest_port 0) has none")


def access_log_level(values: Mapping[str, str]) -> str:
    """``--access_log``: the level access lines are written at, or OFF."""
    given = values.get("access_log", access_log.DEFAULT).strip().upper()
    if given not in access_log.LEVELS:
        raise fail("--access_log", " or ".join(access_log.LEVELS), values["access_log"])
    return given
