"""The multi-model endpoint API SageMaker drives: load, list, describe, unload, invoke.

SageMaker chooses the model name (an opaque key), extracts the model under
``url`` and calls ``POST /models`` on first use. A load compiles the model
before answering, so a model that would not fit is refused with 507 (and
SageMaker evicts another) instead of failing a request later. ``DELETE``
returns once the model's memory is freed. Names are opaque keys, so any
printable name but ``/`` loads; Sanic passes ``<name>`` still
percent-encoded, and it is decoded here (``/models/my%20model`` is ``my model``).
Out of memory, during a load or an invoke, is 507, decided by the core's
``is_out_of_memory`` like everywhere else.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import orjson
from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from ovserve.handler import memory
from ovserve.handler.codecs.tfs_json import dumps
from ovserve.handler.daemon_threads import run_in_daemon_thread
from ovserve.handler.engine import Engine
from ovserve.handler.errors import ConfigError, Conflict, InsufficientResources, InvalidInput, NotFound, is_out_of_memory
from ovserve.handler.protocols.url_path import decode_path
from ovserve.server.inflight import InFlight

from .invocations import invoke
from .scripts import EndpointScripts
from .settings import SageMakerSettings

log = logging.getLogger("ovserve.sagemaker")

_MAX_NAME = 1024
_DEFAULT_PAGE = 100


def _json(document: object, status: int = 200) -> HTTPResponse:
    return raw(dumps(document), status=status, content_type="application/json")


def _load_request(body: bytes) -> tuple[str, str]:
    expected = 'expected {"model_name": "...", "url": "/opt/ml/models/.../model"}'
    try:
        document = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        raise InvalidInput(f"load request is not JSON; {expected}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"load request is not a JSON object; {expected}")
    name, url = document.get("model_name"), document.get("url")
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME or "/" in name or not name.isprintable():
        raise InvalidInput(f"model_name must be 1 to {_MAX_NAME} printable characters without '/'; {expected}")
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(f"url must name the folder holding the model; {expected}")
    return name, url.strip()


def _describe(name: str, url: str) -> dict:
    return {"modelName": name, "modelUrl": url}


def register_multi_model(app: Sanic, engine: Engine, settings: SageMakerSettings, tracker: InFlight,
                         scripts: EndpointScripts | None = None) -> None:
    """``/models`` routes over ``engine``'s models (a model is listed once its load has finished).

    ``scripts``: a model's own ``code/inference.py`` (or the universal one) is made ready before the model compiles,
    so a script that cannot serve refuses the load at once.
    """
    loading: set[str] = set()

    def loaded(name: str) -> bool:
        return engine.has_model(name) and name not in loading

    def describe_model(name: str) -> dict:
        return _describe(name, engine.model_config(name).base_path)

    async def load_model(name: str, url: str) -> None:
        local = "://" not in url or url.startswith("file://")
        if local and not Path(url.removeprefix("file://")).is_dir():
            raise NotFound(f"model folder {url} does not exist; expected the folder SageMaker extracted the model to")
        if local:
            folder = Path(url.removeprefix("file://"))
            need = await run_in_daemon_thread(lambda: memory.model_estimate_bytes(folder), name="ovserve-estimate")
            free = memory.available_bytes(settings.memory_reserve_mb * 1024 * 1024)
            if free is not None and need > free:
                raise InsufficientResources(
                    f"loading {name} needs about {need >> 20} MiB and {max(free, 0) >> 20} MiB are free; unload a model first"
                )
        try:  # compiled before answering: a model that does not fit is refused now, not on its first request
            reasons = await engine.add_model(replace(settings.model_template, name=name, base_path=url, preload=True))
        except ConfigError as exc:  # a URL scheme no storage serves
            raise InvalidInput(f"url {url[:200]!r}: {exc.message}") from None
        if reasons is not None:  # the engine has removed it again
            memory.release_freed()
            if is_out_of_memory(reasons):
                raise InsufficientResources(f"model {name} does not fit in memory: {reasons}")
            raise InvalidInput(f"model {name} cannot be loaded from {url}: {reasons}")

    @app.post("/models")
    async def load(request: Request) -> HTTPResponse:
        name, url = _load_request(request.body)
        if engine.has_model(name) or name in loading:
            raise Conflict(f"model {name} is already loaded; unload it first to load it again")
        loading.add(name)
        try:
            if scripts is not None:
                await scripts.load(name, url)
            try:
                await load_model(name, url)
            except BaseException:
                if scripts is not None:
                    scripts.unload(name)
                raise
        finally:
            loading.discard(name)
        log.info("model loaded", extra={"model": name})
        return _json({"status": f"Model {name} loaded"})

    @app.get("/models")
    async def list_models(request: Request) -> HTTPResponse:
        limit_text = request.args.get("limit") or request.args.get("max_results") or str(_DEFAULT_PAGE)
        token = request.args.get("next_page_token") or request.args.get("nextPageToken") or "0"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            raise InvalidInput(f"limit {limit_text[:20]!r} is not a page size; expected an integer from 1 to 1000")
        if not token.isdigit():
            raise InvalidInput(f"next_page_token {token[:40]!r} is not one this endpoint issued")
        names = sorted(n for n in engine.model_names() if loaded(n))
        start, limit = int(token), int(limit_text)
        page: dict = {"models": [describe_model(n) for n in names[start : start + limit]]}
        if start + limit < len(names):
            page["nextPageToken"] = str(start + limit)
        return _json(page)

    @app.get("/models/<name:str>")
    async def describe(request: Request, name: str) -> HTTPResponse:
        name = decode_path(name)
        if not loaded(name):
            raise NotFound(f"model {name} is not loaded")
        return _json(describe_model(name))

    @app.delete("/models/<name:str>")
    async def unload(request: Request, name: str) -> HTTPResponse:
        name = decode_path(name)
        if not loaded(name):
            raise NotFound(f"model {name} is not loaded")
        finished = await engine.remove_model(name, timeout=settings.server.shutdown_timeout_seconds)
        if scripts is not None:
            scripts.unload(name)
        memory.release_freed()
        log.info("model unloaded", extra={"model": name, "waited_for_requests": not finished})
        return _json({"status": f"Model {name} unloaded"})

    @app.post("/models/<name:str>/invoke")
    async def invoke_model(request: Request, name: str) -> HTTPResponse:
        name = decode_path(name)
        async with tracker:
            if not loaded(name):
                raise NotFound(f"model {name} is not loaded; load it with POST /models first")
            return await invoke(request, engine, settings, model=name, scripts=scripts)
