"""The scripts an endpoint runs, made ready at start-up (or at a multi-model load), and each request through one.

Which script answers a request, as AWS decides it: on a single-model endpoint,
``code/inference.py`` answers every request; on a multi-model endpoint, the
model's own script, else the universal one, else none (ovserve's own
``/invocations``). Getting a script ready: its ``requirements.txt`` installed
(unless ``code/lib`` ships its modules: AWS then skips the install, and so does
this), its file imported, its style checked, and a toolkit script's
``model_fn`` run, all on script threads, so ``/ping`` keeps answering 503 with
what is under way. A multi-model endpoint's per-model ``requirements.txt`` is
not installed, as on AWS: that model's ``code/lib`` is the way (a warning says so).

The loopback TF Serving servers are the adapter's (``start_loopback``): they
start once, before the first script is ready, so ``context.rest_uri`` answers
from the first request on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..daemon_threads import DaemonPool
from ..engine import Engine
from ..errors import NotReady, OvserveError
from . import discovery, loading, toolkit
from .answers import ScriptAnswer, ScriptFailed
from .bridge import LoopBridge
from .calls import Answered
from .context import request_context, startup_context
from .discovery import CodeFolder
from .loading import Script
from .model_handle import Serving
from .settings import ScriptSettings
from .tfs_style import run_handler, run_pair

log = logging.getLogger("ovserve.scripts")
_names = itertools.count(1)


@dataclass
class Loopback:
    """Where the loopback TF Serving APIs listen (None: not served), and a gRPC channel for single-model contexts."""

    rest_port: int | None = None
    grpc_port: int | None = None
    channel: Any = None

    @property
    def rest_base(self) -> str | None:
        return f"http://127.0.0.1:{self.rest_port}" if self.rest_port else None


StartLoopback = Callable[[], Awaitable[Loopback]]


@dataclass(frozen=True)
class Bound:
    """A script serving one model: ``model`` is what ``model_fn`` returned (None: ovserve's model, per request)."""

    script: Script
    model: Any
    model_dir: str | None


@dataclass(frozen=True)
class ScriptRequest:
    """One request for a script: its body, its headers (any case), and the model a multi-model path fixed."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None


def _module_name(code: CodeFolder, model: str | None) -> str:
    stem = re.sub(r"\W", "_", code.script.stem) or "inference"
    if model is None:
        return stem
    return f"{stem}__{re.sub(r'[^0-9A-Za-z_]', '_', model)[:60]}_{next(_names)}"


class ScriptHost:
    """Scripts for ``engine``'s models; every method runs on the event loop, every script call on a script thread.

    ``endpoint`` is a single-model endpoint's script, ``universal`` a multi-model
    endpoint's; ``prepare`` makes whichever is given ready.
    """

    def __init__(self, engine: Engine, settings: ScriptSettings, default_accept: str, start_loopback: StartLoopback | None,
                 endpoint: CodeFolder | None = None, universal: CodeFolder | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.endpoint_code = endpoint
        self.universal_code = universal
        # Scripts block (requests to context.rest_uri, gRPC, sleeps): on the event loop they would stall every
        # connection, and a script posting to the loopback server the loop serves would wait forever. Daemon threads:
        # a SIGTERM must not wait for a script stuck on the network. Busy threads queue calls in order.
        self.threads = DaemonPool(settings.threads, "ovserve-script")
        self._default_accept = default_accept
        self._start_loopback = start_loopback
        self._loopback: Loopback | None = None
        self._loopback_lock: asyncio.Lock | None = None
        self._serving: Serving | None = None
        code = endpoint or universal
        self._status = f"preparing {code.label}" if code is not None else None  # None once start-up's script is ready
        self._endpoint: Bound | None = None
        self._universal: Script | None = None
        self._models: dict[str, Bound] = {}  # a multi-model endpoint's loaded models that a script serves

    def not_ready_reason(self) -> str | None:
        """What start-up is still doing for its script (or why it cannot serve); None when ready or there is none."""
        return self._status

    def serves(self, model: str | None) -> bool:
        """Whether a script answers requests for ``model`` (None: a single-model endpoint's requests)."""
        return self.endpoint_code is not None if model is None else model in self._models

    # -- getting ready ---------------------------------------------------------------------------------------------

    def _serving_now(self) -> Serving:
        if self._serving is None:
            self._serving = Serving(self.engine, LoopBridge(), self._default_accept)
        return self._serving

    async def loopback(self) -> Loopback:
        """The loopback servers, started on first need."""
        if self._loopback is not None:
            return self._loopback
        if self._loopback_lock is None:
            self._loopback_lock = asyncio.Lock()
        async with self._loopback_lock:
            if self._loopback is None:
                self._loopback = await self._start_loopback() if self._start_loopback is not None else Loopback()
        return self._loopback

    async def _import(self, code: CodeFolder, model: str | None, install: bool) -> Script:
        if code.lib is not None and code.requirements is not None:
            log.info("requirements.txt not installed: code/lib ships the modules (as in AWS's container)",
                     extra={"requirements": str(code.requirements), "lib": str(code.lib)})
        elif code.requirements is not None and install:
            from .requirements import install as pip_install

            self._status = f"installing {code.requirements}"
            await pip_install(code, self.settings.packages_dir)
        elif code.requirements is not None:
            log.warning("a multi-model endpoint does not install a model's own requirements.txt (as in AWS's container); "
                        "ship its modules in code/lib, or list them in the universal script's requirements.txt",
                        extra={"requirements": str(code.requirements)})
        name = _module_name(code, model)
        if install:  # start-up's script: /ping says what is under way
            self._status = f"importing {code.label}"
        script = await self.threads.run(lambda: loading.load(code, name))
        log.info("script loaded", extra={"script": code.label, "style": script.style, "module_name": name,
                                         "functions": sorted(script.hooks)})
        return script

    async def _bind(self, script: Script, model: str, model_dir: str | None, single: bool) -> Bound:
        """The script with its model: ``model_fn``'s (run now, on a script thread) or None for ovserve's."""
        if script.style != loading.TOOLKIT or script.hook("model_fn") is None:
            return Bound(script, None, model_dir)
        loopback = await self.loopback()
        context = startup_context(model, model_dir, loopback.rest_base, loopback.grpc_port, loopback.channel if single else None)
        serving = self._serving_now()
        try:
            value = await self.threads.run(lambda: toolkit.load_model(script, serving, model, model_dir, context))
        except Answered as answered:
            said = answered.answer.body.decode(errors="replace")[:500]
            raise loading.ScriptError(f"{script.label}: model_fn failed with status {answered.answer.status}: {said}") from None
        except OvserveError as exc:  # ScriptFailed names the script and the exception; an ovserve error says what failed
            message = exc.message if isinstance(exc, ScriptFailed) else f"{script.label}: model_fn failed: {exc.message}"
            raise loading.ScriptError(message) from None
        log.info("model_fn done", extra={"script": script.label, "model": model, "returned": type(value).__name__})
        return Bound(script, value, model_dir)

    async def prepare(self, model: str | None = None, model_dir: str | None = None) -> None:
        """Start-up's script ready: installed, imported, and (single-model) ``model_fn`` run for ``model`` in ``model_dir``.

        ScriptError when it cannot serve; ``not_ready_reason`` then says why until the process stops.
        """
        code = self.endpoint_code or self.universal_code
        if code is None:
            return
        try:
            await self.loopback()
            script = await self._import(code, None, install=True)
            if self.endpoint_code is not None:
                if script.hook("model_fn") is not None:
                    self._status = f"running model_fn of {code.label}"
                self._endpoint = await self._bind(script, model or "", model_dir, single=True)
            else:
                self._universal = script
        except loading.ScriptError as exc:
            self._status = f"{code.label} cannot serve: {exc.message}"
            raise
        self._status = None
        log.info("script ready", extra={"script": code.label, "style": script.style})

    async def load_model(self, name: str, model_dir: str) -> str | None:
        """A multi-model load: the model's own script (or the universal one) bound to it; the script's path, or None.

        ScriptError (the load is refused) when the model's script cannot serve.
        """
        if self._status is not None:
            raise NotReady(f"cannot load {name} yet: {self._status}")
        own = discovery.for_model(Path(model_dir), self.settings, submit_directory=False)
        if own is None:
            for path in discovery.misplaced(Path(model_dir), self.settings.program):
                log.warning("a script is not where SageMaker scripts belong, so it is not used",
                            extra={"model": name, "found": str(path), "expected": str(Path(model_dir) / "code" / self.settings.program)})
        script = await self._import(own, name, install=False) if own is not None else self._universal
        if script is None:
            return None
        await self.loopback()
        try:
            self._models[name] = await self._bind(script, name, model_dir, single=False)
        except loading.ScriptError:
            if own is not None:
                loading.unload_paths(script.path_entries)
            raise
        return script.label

    def unload_model(self, name: str) -> None:
        bound = self._models.pop(name, None)
        if bound is not None and bound.script is not self._universal:
            loading.unload_paths(bound.script.path_entries)

    # -- requests --------------------------------------------------------------------------------------------------

    async def invoke(self, request: ScriptRequest, default_model: str) -> ScriptAnswer:
        """The script's answer to ``request``; ovserve errors (a 400 from the inner predict, a 500 naming the script) raise."""
        if request.model is None and self._status is not None:
            raise NotReady(f"not ready: {self._status}")
        bound = self._endpoint if request.model is None else self._models.get(request.model)
        if bound is None:
            raise NotReady(f"not ready: no script is loaded for {request.model or 'the endpoint'}")
        loopback = await self.loopback()
        context = request_context(
            model=request.model or default_model, headers=request.headers, content_length=len(request.body),
            rest_base=loopback.rest_base, grpc_port=loopback.grpc_port,
            channel=loopback.channel if request.model is None else None, model_dir=bound.model_dir,
            model_fixed=request.model is not None,
        )
        serving = self._serving_now()
        return await self.threads.run(lambda: _run(bound, serving, request.body, context))


def _run(bound: Bound, serving: Serving, body: bytes, context: Any) -> ScriptAnswer:
    """One request through ``bound``'s script, on a script thread."""
    script = bound.script
    try:
        if script.style == loading.HANDLER:
            return run_handler(script, body, context)
        if script.style == loading.PAIR:
            return run_pair(script, serving, body, context)
        return toolkit.transform(script, serving, bound.model, body, context)
    except Answered as answered:
        return answered.answer
