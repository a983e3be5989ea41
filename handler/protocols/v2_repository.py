"""Triton's model repository extension (index, load, unload) over ovserve's configured models, for REST and gRPC.

The "repository" is the server's configured model list (config.json, or the
one ``--model_name``/``--model_path`` model); ovserve cannot load a model it
was not configured with, so ``config`` and ``file:`` load parameters are
refused. What each call does, and what Triton does:

* **index** lists every configured model, a row per known version: AVAILABLE
  is READY (lazily loaded versions too: they serve, compiling on first use, as
  ModelReady says), START/LOADING is LOADING, UNLOADING is UNLOADING, END is
  UNAVAILABLE with its error (or "unloaded"). A model with no version yet is
  one row without a version: LOADING while its storage is first listed,
  UNAVAILABLE with ovserve's reason otherwise. An unloaded model shows the
  versions it had as UNAVAILABLE, reason "unloaded", as Triton shows it.
* **load** compiles the model's versions now. An unloaded model comes back
  from its remembered configuration; a served one is re-scanned (new versions
  compiled before they replace old ones), which is Triton's "reload". A model
  that still cannot serve answers 503 with the reason (Triton: 400).
* **unload** stops routing to the model at once and waits up to
  ``DRAIN_SECONDS`` for its requests (the rest finish on their own, then it
  unloads). Requests to it then get 404 saying it was unloaded, as Triton's
  "unknown model" does; unloading an unloaded model succeeds (idempotent).
  Polling watches served models only, so nothing reloads it behind the user's back.

Framework-free: the transports parse their wire format into plain values and
call these; errors are the core's (``handler.errors``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from ..engine import Engine
from ..errors import InvalidInput, ModelLoadError, NotFound
from ..status import AVAILABLE, END, LOADING, START, UNLOADING, VersionStatus

DRAIN_SECONDS = 5.0  # how long an unload waits for the model's requests in flight before answering
READY, UNAVAILABLE = "READY", "UNAVAILABLE"
# ovserve's version states as Triton's ModelReadyState names.
TRITON_STATES = {AVAILABLE: READY, START: "LOADING", LOADING: "LOADING", UNLOADING: "UNLOADING", END: UNAVAILABLE}


@dataclass(frozen=True)
class IndexRow:
    """One index entry; ``version`` is "" when the model has no version to report."""

    name: str
    version: str
    state: str
    reason: str

    def as_json(self) -> dict[str, str]:
        """Triton's JSON row: ``version`` only when there is one (it is optional there)."""
        row = {"name": self.name, "version": self.version, "state": self.state, "reason": self.reason}
        if not self.version:
            del row["version"]
        return row


def check_repository_name(name: str) -> None:
    """Only the unnamed repository exists; Triton answers a named one it does not know the same way (an error)."""
    if name:
        raise InvalidInput(f"repository {name!r}: repository names are not supported; this server has one repository, "
                           "its configured models (use /v2/repository/index and /v2/repository/models/{m}/load)")


def _version_row(name: str, status: VersionStatus) -> IndexRow:
    reason = status.error_message or ("unloaded" if status.state == END else "")
    return IndexRow(name, str(status.version), TRITON_STATES.get(status.state, UNAVAILABLE), reason)


def index(engine: Engine, ready_only: bool = False) -> list[IndexRow]:
    """Every configured model's rows, by name then version (Triton's order); ``ready_only`` keeps the READY ones."""
    rows: list[IndexRow] = []
    reasons = engine.unavailable_reasons()
    for name, statuses in engine.statuses_by_model().items():
        if statuses:
            rows.extend(_version_row(name, status) for status in statuses)
        else:
            state = "LOADING" if not engine.is_discovered(name) else UNAVAILABLE
            rows.append(IndexRow(name, "", state, reasons.get(name, "")))
    for name, unloaded in engine.unloaded_models().items():
        versions = [str(v) for v in unloaded.versions] or [""]
        rows.extend(IndexRow(name, version, UNAVAILABLE, unloaded.reason) for version in versions)
    rows.sort(key=lambda row: (row.name, int(row.version or -1)))
    return [row for row in rows if row.state == READY] if ready_only else rows


def _require_configured(engine: Engine, model: str) -> None:
    """NotFound naming the configured models unless ``model`` is one (served or unloaded)."""
    if engine.has_model(model) or model in engine.unloaded_models():
        return
    names = sorted([*engine.model_names(), *engine.unloaded_models()])
    raise NotFound(f"Model '{model}' is not in this server's configuration; only configured models "
                   f"(config.json or --model_name) can be loaded or unloaded: {', '.join(names) or 'none'}")


def _check_load_parameters(parameters: Mapping[str, object]) -> None:
    for key in parameters:
        if key == "config":
            raise InvalidInput("load parameter 'config' (a model configuration sent with the load) is not supported: "
                               "ovserve loads a configured model with its configured settings (config.json or flags)")
        if key.startswith("file:"):
            raise InvalidInput(f"load parameter {key!r} (model files sent with the load) is not supported: ovserve loads "
                               "a configured model from its configured base_path")
        raise InvalidInput(f"unknown load parameter {key!r}: ovserve's load takes no parameters")


async def load(engine: Engine, model: str, parameters: Mapping[str, object]) -> None:
    """Load (or reload) a configured model and compile its versions; returns once it can serve."""
    _check_load_parameters(parameters)
    _require_configured(engine, model)
    # Shielded: a load runs to its end even if the caller goes away, so a dropped connection never leaves it half done.
    reason = await asyncio.shield(engine.load_model(model))
    if reason is not None:
        raise ModelLoadError(f"Model '{model}' could not be loaded: {reason}")


async def unload(engine: Engine, model: str, parameters: Mapping[str, object]) -> None:
    """Stop serving a configured model, remembering it for index and load; ``unload_dependents`` has nothing to do."""
    dependents = parameters.get("unload_dependents", False)
    if not isinstance(dependents, bool):
        raise InvalidInput(f"unload parameter 'unload_dependents' must be a boolean, not {type(dependents).__name__}")
    _require_configured(engine, model)
    if engine.has_model(model):
        await engine.unload_model(model, DRAIN_SECONDS)


def is_unloaded(engine: Engine, model: str) -> bool:
    """Whether ``model`` was unloaded through this API (gRPC ModelReady answers ``ready=false`` for it, as Triton does)."""
    return model in engine.unloaded_models()


def json_body(body: bytes, what: str) -> dict[str, object]:
    """A REST request body: empty (tritonclient's index sends none) or a JSON object; 400 naming the problem otherwise."""
    if not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the {what} request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"the {what} request body must be a JSON object, not {type(document).__name__}")
    return document


def ready_flag(document: Mapping[str, object]) -> bool:
    """The index request's ``ready`` (default false); 400 unless a boolean, as Triton answers."""
    ready = document.get("ready", False)
    if not isinstance(ready, bool):
        raise InvalidInput(f"index field 'ready' must be a boolean, not {type(ready).__name__}")
    return ready


def rest_parameters(document: Mapping[str, object], what: str) -> Mapping[str, object]:
    """A load/unload body's ``parameters`` object (absent: none)."""
    parameters = document.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInput(f"the {what} request's 'parameters' must be a JSON object, not {type(parameters).__name__}")
    return parameters
