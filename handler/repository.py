"""Models, their versions, the version policy, polling, and safe version swaps.

Each model's versions move through START -> LOADING -> AVAILABLE ->
UNLOADING -> END (END with an error when loading failed). Three rules keep
clients safe while folders change under a running server:

* a version that takes over traffic is loaded first (when the model already
  serves, or preload is on); older versions retire only after that;
* a version that failed to load is passed over: the policy picks among the
  others, so a broken folder never takes the working versions down;
* a retired version stops taking new requests but finishes those in flight
  before it is unloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .config import ModelConfig
from .daemon_threads import run_in_daemon_thread
from .errors import Conflict, ModelLoadError, NotFound, OvserveError, StorageError
from .model import ServedModel
from .reshape import short_reason
from .storage import Storage, storage_for

log = logging.getLogger("ovserve.repository")

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclass(frozen=True)
class VersionStatus:
    """One row of a model's status, as TF Serving reports it."""

    version: int
    state: str
    error_code: str
    error_message: str


class VersionEntry:
    """A version's state, the served model behind it, and its in-flight count."""

    def __init__(self, served: ServedModel, fingerprint: str) -> None:
        self.served = served
        self.fingerprint = fingerprint
        self.state = START
        self.error = ""
        self.in_flight = 0
        self.ended = asyncio.Event()  # set once the version is unloaded

    @property
    def version(self) -> int:
        return self.served.version

    def status(self) -> VersionStatus:
        code = "UNKNOWN" if self.error else "OK"
        return VersionStatus(self.version, self.state, code, self.error)


class ModelEntry:
    """One model: its storage, its versions and the policy choosing among them."""

    def __init__(self, config: ModelConfig, storage: Storage, cpu_extension: str | None = None) -> None:
        self.config = config
        self.storage = storage
        self.versions: dict[int, VersionEntry] = {}
        self._failed: dict[int, str] = {}  # version -> fingerprint that failed to load
        self._refresh_lock = asyncio.Lock()
        self._cpu_extension = cpu_extension
        self._reported_skips: set[str] = set()
        self._outage = False
        self._fetch_failures: dict[int, str] = {}

    @property
    def name(self) -> str:
        return self.config.name

    def statuses(self) -> list[VersionStatus]:
        return [self.versions[v].status() for v in sorted(self.versions)]

    def default_entry(self) -> VersionEntry | None:
        """The highest AVAILABLE version."""
        available = [e for e in self.versions.values() if e.state == AVAILABLE]
        return max(available, key=lambda e: e.version) if available else None

    def unavailable_reason(self) -> str | None:
        """Why no version can serve (failed loads, or no model files), or None when one can."""
        if self.default_entry() is not None:
            return None
        return "; ".join(s.error_message for s in self.statuses() if s.error_message) or "no model files found"

    def _any_loaded(self) -> bool:
        return any(e.served.is_loaded for e in self.versions.values() if e.state == AVAILABLE)

    async def refresh(self, preload: bool = False) -> None:
        """Bring versions in line with storage and policy; loads new versions before retiring old ones."""
        async with self._refresh_lock:
            try:
                present = await run_in_daemon_thread(self.storage.list_versions, name=f"ovserve-list-{self.name}")
            except StorageError as exc:
                if not self._outage:  # once per outage, not once per poll
                    log.warning("storage unreachable; serving the versions already loaded",
                                extra={"model": self.name, "reason": exc.message})
                else:
                    log.debug("storage still unreachable", extra={"model": self.name})
                self._outage = True
                raise
            if self._outage:
                log.info("storage reachable again", extra={"model": self.name})
                self._outage = False
            self._report_skips()
            for version, fingerprint in list(self._failed.items()):
                if present.get(version) != fingerprint:
                    del self._failed[version]  # files changed or went away: worth another try
            eager = preload or self.config.preload or self._any_loaded()
            while True:
                candidates = [v for v in present if v not in self._failed]
                selected = self.config.version_policy.select(candidates)
                added = [v for v in selected if self._needs_entry(v, present[v])]
                if not added:
                    break
                loads = [self._add(v, present[v], eager) for v in added]
                await asyncio.gather(*loads)
                if not any(v in self._failed for v in added):
                    break
            for version, entry in list(self.versions.items()):
                if entry.state in (AVAILABLE, LOADING) and version not in selected:
                    self._retire(entry, "removed" if version not in present else "no longer selected by the version policy")

    def _report_skips(self) -> None:
        skipped = set(self.storage.skipped())
        for reason in sorted(skipped - self._reported_skips):
            log.warning("version folder skipped", extra={"model": self.name, "reason": reason})
        self._reported_skips = skipped

    def _needs_entry(self, version: int, fingerprint: str) -> bool:
        entry = self.versions.get(version)
        return entry is None or entry.state in (UNLOADING, END)

    async def _add(self, version: int, fingerprint: str, eager: bool) -> None:
        served = ServedModel(self.config, version, lambda: self.storage.local_folder(version), self._cpu_extension)
        entry = VersionEntry(served, fingerprint)
        previous = self.versions.get(version)
        if previous is not None and previous.state == UNLOADING:
            return  # still draining; the next poll brings it back
        self.versions[version] = entry
        if not eager:
            if getattr(self.storage, "remote", False):
                entry.state = LOADING  # files first: a version is AVAILABLE only once all of them are here
                try:
                    await run_in_daemon_thread(lambda: self.storage.local_folder(version), name=f"ovserve-fetch-{self.name}")
                except (StorageError, ModelLoadError) as exc:
                    del self.versions[version]
                    self._fetch_failed(version, exc.message)
                    return
                self._fetch_failures.pop(version, None)
            entry.state = AVAILABLE
            log.info("version available (loads on first use)", extra={"model": self.name, "version": version})
            return
        entry.state = LOADING
        try:
            await served.ensure_loaded()
        except StorageError as exc:  # not the version's fault: forget it, the next poll tries again
            del self.versions[version]
            self._fetch_failed(version, exc.message)
            return
        except Exception as exc:
            self._mark_failed(entry, exc)
            return
        entry.state = AVAILABLE
        log.info("version available", extra={"model": self.name, "version": version})

    def _fetch_failed(self, version: int, reason: str) -> None:
        """Log a version that could not be fetched, once per reason rather than once per poll."""
        if self._fetch_failures.get(version) != reason:
            log.warning("version not fetched", extra={"model": self.name, "version": version, "reason": reason})
        self._fetch_failures[version] = reason

    def _mark_failed(self, entry: VersionEntry, exc: BaseException) -> None:
        reason = exc.message if isinstance(exc, OvserveError) else short_reason(exc)
        entry.state, entry.error = END, f"failed to load: {reason}"
        entry.served.unload()
        self._failed[entry.version] = entry.fingerprint
        log.error("version failed to load", extra={"model": self.name, "version": entry.version, "reason": reason})

    def _retire(self, entry: VersionEntry, why: str) -> None:
        entry.state = UNLOADING
        log.info("version unloading", extra={"model": self.name, "version": entry.version, "reason": why})
        if entry.in_flight == 0:
            self._finish_unload(entry)

    def _finish_unload(self, entry: VersionEntry) -> None:
        entry.served.unload()
        entry.state = END
        entry.ended.set()
        log.info("version unloaded", extra={"model": self.name, "version": entry.version})

    def _pick(self, version: int | None) -> VersionEntry:
        if version is None:
            entry = self.default_entry()
            if entry is None:
                raise NotFound(f"Model '{self.name}' has no version available to serve")
            return entry
        entry = self.versions.get(version)
        if entry is None or entry.state not in (AVAILABLE, LOADING):
            state = f" (state {entry.state}{': ' + entry.error if entry.error else ''})" if entry else ""
            raise NotFound(f"Model '{self.name}' version {version} is not served{state}")
        return entry

    async def acquire(self, version: int | None) -> VersionEntry:
        """A loaded version for one request; it stays loaded until ``release``."""
        for _ in range(len(self.versions) + 2):
            entry = self._pick(version)
            entry.in_flight += 1
            if entry.served.is_loaded:
                return entry
            try:
                await entry.served.ensure_loaded()
                return entry
            except ModelLoadError as exc:
                self.release(entry)
                if entry.state in (AVAILABLE, LOADING):
                    self._mark_failed(entry, exc)
                    await self.refresh()  # a working older version may serve instead
                if version is not None:
                    raise NotFound(f"Model '{self.name}' version {version} failed to load: {exc.message}") from None
            except BaseException:
                self.release(entry)
                raise
        raise NotFound(f"Model '{self.name}' has no version that loads")

    @contextlib.asynccontextmanager
    async def use(self, version: int | None) -> AsyncIterator[ServedModel]:
        """``acquire``/``release`` around a block."""
        entry = await self.acquire(version)
        try:
            yield entry.served
        finally:
            self.release(entry)

    def release(self, entry: VersionEntry) -> None:
        entry.in_flight -= 1
        if entry.in_flight == 0 and entry.state == UNLOADING:
            self._finish_unload(entry)

    def unload_all(self, why: str = "server stopping") -> None:
        for entry in self.versions.values():
            if entry.state in (AVAILABLE, LOADING):
                self._retire(entry, why)

    async def close(self, timeout: float) -> bool:
        """Retire every version and wait (at most ``timeout``) until requests in flight finish and all are unloaded.

        Returns False when requests were still running at the deadline; their
        versions unload as soon as the last one finishes.
        """
        self.unload_all("model removed")
        waiting = [entry.ended.wait() for entry in self.versions.values() if entry.state == UNLOADING]
        if not waiting:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*waiting), timeout)
        except TimeoutError:
            return False
        return True


class Repository:
    """All served models, and the poller that keeps them in step with storage."""

    def __init__(
        self, configs: list[ModelConfig], cpu_extension: str | None = None, storage_cache_dir: str | None = None
    ) -> None:
        self.models = {c.name: ModelEntry(c, storage_for(c.base_path, storage_cache_dir), cpu_extension) for c in configs}
        self._poller: asyncio.Task | None = None
        self._cpu_extension = cpu_extension
        self._storage_cache_dir = storage_cache_dir

    def add(self, config: ModelConfig) -> ModelEntry:
        """Serve one more model (its versions are found by the caller's ``refresh``); Conflict if the name is taken."""
        if config.name in self.models:
            raise Conflict(f"Model '{config.name}' is already loaded; unload it first to load it again")
        entry = ModelEntry(config, storage_for(config.base_path, self._storage_cache_dir), self._cpu_extension)
        self.models[config.name] = entry
        return entry

    async def remove(self, name: str, timeout: float) -> bool:
        """Stop serving ``name`` at once and unload it once its requests finish (see ``ModelEntry.close``)."""
        entry = self.get(name)
        del self.models[name]
        return await entry.close(timeout)

    def get(self, name: str) -> ModelEntry:
        model = self.models.get(name)
        if model is None:
            raise NotFound(f"Model '{name}' not found: no model of that name is served")
        return model

    async def refresh_all(self, preload: bool = False, strict: bool = False) -> None:
        """One scan of every model; a failure in one never stops the others.

        ``strict`` (start-up) lets a StorageError through: a wrong bucket or
        credentials should stop the server with a clear message, not leave it
        serving nothing.
        """
        for model in self.models.values():
            try:
                await model.refresh(preload=preload)
            except StorageError:
                if strict:
                    raise
            except Exception as exc:
                log.error("model refresh failed", extra={"model": model.name, "reason": short_reason(exc)})

    def start_polling(self, interval_seconds: float) -> None:
        """Scan every ``interval_seconds``; 0 keeps the versions found at start-up."""
        if interval_seconds > 0 and self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll(interval_seconds))

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh_all()

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    def is_ready(self) -> bool:
        """Every model has a version to serve."""
        return all(m.default_entry() is not None for m in self.models.values())
