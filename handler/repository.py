"""Models, their versions, the version policy, polling, and safe version swaps.

Each model's versions move through START -> LOADING -> AVAILABLE ->
UNLOADING -> END (END with an error when loading failed). Four rules keep
clients safe while folders change under a running server:

* a scan is published in one step: the versions it selects are fetched (and
  compiled, when the model already serves or preload is on) while they show
  START/LOADING, and only once every one of them has settled do they become
  AVAILABLE together and the versions they replace retire, so a client never
  sees part of a scan;
* a version that failed to load, or could not be fetched, is passed over: the
  policy picks among the others, so a broken folder or a storage hiccup never
  takes the working versions down;
* a version still arriving answers "not ready" (503), never "not found";
* a retired version stops taking new requests but finishes those in flight
  before it is unloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from . import metrics
from .daemon_threads import run_in_daemon_thread
from .errors import Conflict, ModelLoadError, NotFound, NotReady, OvserveError, StorageError
from .model import ServedModel
from .reshape import short_reason
from .settings.config import ModelConfig
from .status import AVAILABLE, END, LOADING, START, UNLOADING, VersionStatus
from .storage import Storage, storage_for

log = logging.getLogger("ovserve.repository")


# What a version in START/LOADING is doing, as readiness and 503 messages say it.
FETCHING = "is being fetched from storage"
COMPILING = "is loading (reading and compiling the model)"
QUEUED = "is waiting to be loaded"
PREPARED = "is ready and waits for the rest of its scan"

# How preparing one version for a scan ended.
_READY, _FAILED, _UNFETCHED, _SKIPPED = "ready", "failed", "unfetched", "skipped"


class VersionEntry:
    """A version's state, the served model behind it, and its in-flight count."""

    def __init__(self, served: ServedModel, fingerprint: str) -> None:
        self.served = served
        self.fingerprint = fingerprint
        self.state = START
        self.activity = QUEUED  # what a START/LOADING version is doing (FETCHING, COMPILING)
        self.error = ""
        self.in_flight = 0
        self.ended = asyncio.Event()  # set once the version is unloaded

    @property
    def version(self) -> int:
        return self.served.version

    @property
    def arriving(self) -> bool:
        """Found by the scan under way and not published yet: shown in status, not routable."""
        return self.state in (START, LOADING)

    def status(self) -> VersionStatus:
        code = "UNKNOWN" if self.error else "OK"
        return VersionStatus(self.version, self.state, code, self.error)


class ModelEntry:
    """One model: its storage, its versions and the policy choosing among them."""

    def __init__(self, config: ModelConfig, storage: Storage, cpu_extension: str | None = None) -> None:
        self.config = config
        self.storage = storage
        self.versions: dict[int, VersionEntry] = {}
        self.discovered = False  # set once a listing of its storage has completed
        self._failed: dict[int, str] = {}  # version -> fingerprint that failed to load
        self._refresh_lock = asyncio.Lock()
        self._cpu_extension = cpu_extension
        self._reported_skips: set[str] = set()
        self._outage = False
        self._fetch_failures: dict[int, str] = {}  # version -> why its files could not be fetched (storage trouble)

    @property
    def name(self) -> str:
        return self.config.name

    def statuses(self) -> list[VersionStatus]:
        return [self.versions[v].status() for v in sorted(self.versions)]

    def default_entry(self) -> VersionEntry | None:
        """The highest AVAILABLE version."""
        available = [e for e in self.versions.values() if e.state == AVAILABLE]
        return max(available, key=lambda e: e.version) if available else None

    def arriving_reason(self) -> str | None:
        """What the versions still arriving are doing ("version 1 is being fetched from storage"), or None."""
        arriving = [f"version {e.version} {e.activity}" for v, e in sorted(self.versions.items()) if e.arriving]
        if arriving:
            return "; ".join(arriving)
        if not self.discovered:
            return "its versions are still being discovered"
        return None

    def unavailable_reason(self) -> str | None:
        """Why no version can serve (still arriving, failed loads or fetches, no model files), or None when one can."""
        if self.default_entry() is not None:
            return None
        arriving = self.arriving_reason()
        if arriving is not None:
            return arriving
        problems = [f"version {v} could not be fetched from storage: {r}" for v, r in sorted(self._fetch_failures.items())]
        problems += [f"version {s.version} {s.error_message}" for s in self.statuses() if s.error_message]
        return "; ".join(problems) or "no model files found"

    def _any_loaded(self) -> bool:
        return any(e.served.is_loaded for e in self.versions.values() if e.state == AVAILABLE)

    async def refresh(self, preload: bool = False) -> None:
        """Bring versions in line with storage and policy, publishing the scan's outcome in one step.

        New versions are prepared (fetched, and compiled when eager) first; a
        version that fails either way is passed over and the policy chooses
        again, so the versions already serving stay until a replacement is ready.
        """
        async with self._refresh_lock:
            try:
                present = await run_in_daemon_thread(self.storage.list_versions, name=f"ovserve-list-{self.name}")
            except StorageError as exc:
                metrics.storage_poll_failed(self.name)  # every failed listing counts; the log says it once per outage
                if not self._outage:  # once per outage, not once per poll
                    log.warning("storage unreachable; serving the versions already loaded",
                                extra={"model": self.name, "reason": exc.message})
                else:
                    log.debug("storage still unreachable", extra={"model": self.name})
                self._outage = True
                raise
            self.discovered = True
            if self._outage:
                log.info("storage reachable again", extra={"model": self.name})
                self._outage = False
            self._report_skips()
            for version, fingerprint in list(self._failed.items()):
                if present.get(version) != fingerprint:
                    del self._failed[version]  # files changed or went away: worth another try
            for version in list(self._fetch_failures):
                if version not in present:
                    del self._fetch_failures[version]
            eager = preload or self.config.preload or self._any_loaded()
            passed_over: set[int] = set()  # could not be fetched or is still draining: this scan does without it
            ready: set[int] = set()
            while True:
                candidates = [v for v in present if v not in self._failed and v not in passed_over]
                selected = self.config.version_policy.select(candidates)
                added = [v for v in selected if v not in ready and self._needs_entry(v)]
                if not added:
                    break
                outcomes = await asyncio.gather(*(self._prepare(v, present[v], eager) for v in added))
                ready.update(v for v, outcome in zip(added, outcomes, strict=True) if outcome == _READY)
                passed_over.update(v for v, outcome in zip(added, outcomes, strict=True) if outcome in (_UNFETCHED, _SKIPPED))
                if all(outcome == _READY for outcome in outcomes):
                    break
            self._publish(selected, present, ready)

    def _publish(self, selected: list[int], present: dict[int, str], ready: set[int]) -> None:
        """The scan's outcome, all at once (no await in here): new versions AVAILABLE, replaced ones retiring."""
        for version in sorted(ready):
            entry = self.versions.get(version)
            if entry is None or not entry.arriving or version not in selected:
                continue
            entry.state, entry.activity = AVAILABLE, ""
            loaded = entry.served.is_loaded
            log.info("version available" if loaded else "version available (loads on first use)",
                     extra={"model": self.name, "version": version})
        for version, entry in list(self.versions.items()):
            if version in selected:
                continue
            if entry.state == AVAILABLE:
                self._retire(entry, "removed" if version not in present else "no longer selected by the version policy")
            elif entry.arriving:  # prepared, then passed over when the policy chose again
                self._retire(entry, "no longer selected by the version policy")

    def _report_skips(self) -> None:
        skipped = set(self.storage.skipped())
        for reason in sorted(skipped - self._reported_skips):
            log.warning("version folder skipped", extra={"model": self.name, "reason": reason})
        self._reported_skips = skipped

    def _needs_entry(self, version: int) -> bool:
        """No entry, a finished one, or one arriving but not prepared by this scan (left by an interrupted one)."""
        entry = self.versions.get(version)
        return entry is None or entry.state in (UNLOADING, END) or entry.arriving

    async def _prepare(self, version: int, fingerprint: str, eager: bool) -> str:
        """Get one selected version ready to publish: its files fetched (remote storage), compiled when ``eager``.

        The entry shows START/LOADING meanwhile. Returns _READY, _FAILED (END with
        the reason, tried again when its files change), _UNFETCHED (storage trouble:
        whatever was there before stays, the next poll tries again) or _SKIPPED.
        """
        previous = self.versions.get(version)
        if previous is not None and previous.state == UNLOADING:
            return _SKIPPED  # still draining; the next poll brings it back
        if previous is not None and previous.arriving:  # an interrupted scan's: start over
            previous.served.unload()
            previous = None
        served = ServedModel(self.config, version, lambda: self.storage.local_folder(version), self._cpu_extension)
        entry = VersionEntry(served, fingerprint)
        self.versions[version] = entry
        if getattr(self.storage, "remote", False):  # files first: a version is AVAILABLE only once all of them are here
            fetch = lambda: run_in_daemon_thread(lambda: self.storage.local_folder(version), name=f"ovserve-fetch-{self.name}")  # noqa: E731
            outcome = await self._step(entry, previous, FETCHING, fetch)
            if outcome != _READY:
                return outcome
            self._fetch_failures.pop(version, None)
        if eager:
            outcome = await self._step(entry, previous, COMPILING, served.ensure_loaded)
            if outcome != _READY:
                return outcome
        entry.activity = PREPARED
        return _READY

    async def _step(
        self, entry: VersionEntry, previous: VersionEntry | None, activity: str, work: Callable[[], Awaitable[object]]
    ) -> str:
        """Run one stage of ``_prepare``; whatever it raises settles the version, so none stays LOADING."""
        entry.state, entry.activity = LOADING, activity
        try:
            await work()
        except StorageError as exc:  # not the version's fault: forget this attempt, the next poll tries again
            if self.versions.get(entry.version) is entry:
                if previous is None:
                    del self.versions[entry.version]
                else:
                    self.versions[entry.version] = previous
            self._fetch_failed(entry.version, exc.message)
            return _UNFETCHED
        except Exception as exc:
            if not entry.arriving:
                return _SKIPPED  # retired meanwhile (server stopping, model removed)
            self._mark_failed(entry, exc)
            return _FAILED
        if not entry.arriving:
            entry.served.unload()  # retired while it loaded: do not keep what was compiled
            return _SKIPPED
        return _READY

    def _fetch_failed(self, version: int, reason: str) -> None:
        """Log a version that could not be fetched, once per reason rather than once per poll."""
        if self._fetch_failures.get(version) != reason:
            log.warning("version not fetched", extra={"model": self.name, "version": version, "reason": reason})
        self._fetch_failures[version] = reason

    def _mark_failed(self, entry: VersionEntry, exc: BaseException) -> None:
        reason = exc.message if isinstance(exc, OvserveError) else short_reason(exc)
        entry.state, entry.error, entry.activity = END, f"failed to load: {reason}", ""
        entry.served.unload()
        self._failed[entry.version] = entry.fingerprint
        self._fetch_failures.pop(entry.version, None)
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
        """The version a request goes to; NotReady (503) while it is still arriving, NotFound when it is not served."""
        if version is None:
            entry = self.default_entry()
            if entry is None:
                self._raise_if_arriving()
                raise NotFound(f"Model '{self.name}' has no version available to serve")
            return entry
        entry = self.versions.get(version)
        if entry is not None and entry.arriving:
            raise NotReady(f"Model '{self.name}' is not ready yet: {self.arriving_reason()}")
        if entry is None and not self.discovered:
            self._raise_if_arriving()
        if entry is None and version in self._fetch_failures:
            raise NotReady(f"Model '{self.name}' is not ready yet: version {version} could not be fetched from storage "
                           f"({self._fetch_failures[version]}); it is tried again at the next scan")
        if entry is None or entry.state != AVAILABLE:
            state = f" (state {entry.state}{': ' + entry.error if entry.error else ''})" if entry else ""
            raise NotFound(f"Model '{self.name}' version {version} is not served{state}")
        return entry

    def _raise_if_arriving(self) -> None:
        reason = self.arriving_reason()
        if reason is None and self._fetch_failures:
            version, problem = max(self._fetch_failures.items())
            reason = f"version {version} could not be fetched from storage ({problem}); it is tried again at the next scan"
        if reason is not None:
            raise NotReady(f"Model '{self.name}' is not ready yet: {reason}")

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
                if entry.state == AVAILABLE:
                    self._mark_failed(entry, exc)
                    # A working older version may serve instead; shielded: the scan finishes even if this request is cancelled.
                    await asyncio.shield(self.refresh())
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
            if entry.state == AVAILABLE or entry.arriving:
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


@dataclass(frozen=True)
class UnloadedModel:
    """A configured model taken out of service by the model repository API, remembered so it can come back.

    ``versions`` were AVAILABLE when it was unloaded (the index lists them);
    ``reason`` is what the index says about it ("unloaded", or why loading it again failed).
    """

    config: ModelConfig
    versions: tuple[int, ...]
    reason: str


class Repository:
    """All served models, and the poller that keeps them in step with storage.

    ``unloaded`` holds the configured models unloaded through the model
    repository API. Polling scans ``models`` only, so nothing brings an
    unloaded model back behind the user's back: only a load does.
    """

    def __init__(
        self, configs: list[ModelConfig], cpu_extension: str | None = None, storage_cache_dir: str | None = None
    ) -> None:
        self.models = {
            c.name: ModelEntry(c, storage_for(c.base_path, storage_cache_dir, c.max_archive_bytes), cpu_extension) for c in configs
        }
        self.unloaded: dict[str, UnloadedModel] = {}
        self._poller: asyncio.Task | None = None
        self._cpu_extension = cpu_extension
        self._storage_cache_dir = storage_cache_dir

    def add(self, config: ModelConfig) -> ModelEntry:
        """Serve one more model (its versions are found by the caller's ``refresh``); Conflict if the name is taken."""
        if config.name in self.models:
            raise Conflict(f"Model '{config.name}' is already loaded; unload it first to load it again")
        storage = storage_for(config.base_path, self._storage_cache_dir, config.max_archive_bytes)
        entry = ModelEntry(config, storage, self._cpu_extension)
        self.models[config.name] = entry
        self.unloaded.pop(config.name, None)  # served again: no longer remembered as unloaded
        return entry

    async def remove(self, name: str, timeout: float) -> bool:
        """Stop serving ``name`` at once and unload it once its requests finish (see ``ModelEntry.close``)."""
        entry = self.get(name)
        del self.models[name]
        return await entry.close(timeout)

    def get(self, name: str) -> ModelEntry:
        model = self.models.get(name)
        if model is None and name in self.unloaded:
            raise NotFound(f"Model '{name}' is not served: it was unloaded through the model repository API "
                           f"({self.unloaded[name].reason}); load it again through that API to serve it")
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

