"""The facade every adapter calls: predict, metadata, status, readiness, and the set of models.

Adapters parse their transport and call one codec; the engine finds the
model version (policy, default version, lazy load) and keeps it in use for
the whole request, so a version swap never cuts a request short. It is the
only door to the repository: listing models, adding and removing one, and
every readiness answer go through here, so a new transport never depends on
how versions are kept. It also notes, on the request context, which model
version serves each request (``request_context.serving``): that is what the
request's metrics are counted under, once, whatever the transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import image_inputs, metrics, offload, request_context
from .codecs.limits import DEFAULT_MAX_RESPONSE_BYTES
from .errors import NotFound, NotReady, OvserveError
from .infer_request import ArrayBuilder, InferRequest
from .model import ServedModel
from .records import infer_records
from .repository import Repository, UnloadedModel
from .settings.config import ModelConfig
from .signature import Signature
from .status import AVAILABLE, VersionStatus
from .validation import prepare

__all__ = ["ArrayBuilder", "Engine", "InferRequest", "Prediction"]


@dataclass(frozen=True)
class Prediction:
    """What a predict produced, and which version produced it."""

    model: str
    version: int
    outputs: dict[str, np.ndarray]


async def _build(served: ServedModel, build_arrays: ArrayBuilder, work_bytes: int) -> dict[str, np.ndarray]:
    """The request's arrays; large ones decoded and checked (``prepare``) off the loop."""
    relax = getattr(build_arrays, "without_shape_checks", None)
    if relax is not None and served.follows_request_shapes:
        build_arrays = relax()  # the model recompiles for the request's shapes: only types and sizes are checked early
    signature = served.request_signature
    if work_bytes < offload.OFFLOAD_AT_BYTES:
        return build_arrays(signature)
    return await offload.on_worker(lambda: prepare(build_arrays(signature), signature))


class Engine:
    """Inference, metadata, status and the set of models, over a repository.

    Adapters use the methods only; ``repository`` is the engine's own (tests
    look inside it), so how versions are kept can change without any transport.
    """

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        # The largest answer an adapter encodes (--rest_max_response_mb); set by the front ends from their settings.
        self.max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES
        self.started = False  # set once start() has discovered every model's versions

    @classmethod
    def from_configs(
        cls, configs: list[ModelConfig], cpu_extension: str | None = None, storage_cache_dir: str | None = None
    ) -> Engine:
        return cls(Repository(configs, cpu_extension, storage_cache_dir))

    async def start(self, preload: bool = False, poll_seconds: float = 0) -> None:
        """Discover versions (loading them when asked) and start watching storage.

        Raises StorageError when a model's storage cannot be listed at all.
        """
        await self.repository.refresh_all(preload=preload, strict=True)
        self.repository.start_polling(poll_seconds)
        self.started = True

    async def stop(self) -> None:
        await self.repository.stop()
        for model in self.repository.models.values():
            model.unload_all()

    async def predict(self, request: InferRequest) -> Prediction:
        """Run one request against its model (the default version when ``request.version`` is None).

        Small requests build their arrays on the loop; from ``offload.OFFLOAD_AT_BYTES``
        of ``request.work_bytes`` on, they are built and checked on a worker thread,
        so the loop keeps serving.
        """
        entry = self.repository.get(request.model)
        version_entry = await entry.acquire(request.version)
        # Counted (handler.metrics) from here: a name or version that serves nothing never becomes a label value.
        request_context.serving(request.model, version_entry.version, inference=True, body_id=request.request_id)
        try:
            served = version_entry.served
            if request.work_bytes < offload.OFFLOAD_AT_BYTES and not served.follows_request_shapes:
                arrays = request.arrays(served.request_signature)  # the hot path: small requests build on the loop
            else:
                arrays = await _build(served, request.arrays, request.work_bytes)
            if image_inputs.needs_decoding(arrays, served.request_signature):  # JPEG/PNG for numeric inputs: decoded off the loop
                arrays = await image_inputs.decode_on_worker(arrays, served.request_signature, image_inputs.ImageSettings.of(served.config))
            if request.records:
                outputs = await infer_records(served, arrays, output_filter=request.output_filter)
            else:
                outputs = await served.infer(arrays, output_filter=request.output_filter)
            return Prediction(request.model, served.version, outputs)
        finally:
            entry.release(version_entry)

    async def metadata(self, model: str, version: int | None) -> tuple[int, Signature]:
        """The served version number and its signature (loads the version if needed)."""
        entry = self.repository.get(model)
        async with entry.use(version) as served:
            request_context.serving(model, served.version)
            return served.version, served.signature

    def status(self, model: str, version: int | None) -> list[VersionStatus]:
        """Version states; with ``version``, just that one (NotFound if it was never seen).

        Before the model's storage has been listed once there is nothing to report:
        NotReady (503), not an empty 200, so a client waiting for AVAILABLE keeps waiting.
        """
        entry = self.repository.get(model)
        request_context.serving(model, None)  # OVMS counts status requests per model, without a version
        statuses = entry.statuses()
        if not statuses and not entry.discovered:
            raise NotReady(f"Model '{model}' is not ready yet: its versions are still being discovered")
        if version is None:
            return statuses
        chosen = [s for s in statuses if s.version == version]
        if not chosen:
            raise NotFound(f"Model '{model}' has no version {version}")
        return chosen

    def not_ready_reason(self) -> str | None:
        """Why the engine cannot serve every model yet, or None when it can.

        The one definition of readiness: the REST/v2 health probe, SageMaker's
        ``/ping`` and Lambda's health routes all answer from it.
        """
        for name, entry in self.repository.models.items():
            reason = entry.unavailable_reason()
            if reason is None:
                continue
            if not entry.discovered:
                return f"models are still loading: model {name}'s versions are still being discovered"
            if entry.arriving_reason() is not None:  # fetching or compiling: it may serve soon
                return f"model {name} has no version to serve yet: {reason}"
            if self.started:
                return f"model {name} has no version to serve: {reason}"
        return None if self.started else "models are still loading"

    def is_ready(self) -> bool:
        return self.not_ready_reason() is None

    def unavailable_reasons(self) -> dict[str, str]:
        """Each model that has no version to serve, and why (fetch or load failures, no model files).

        What a start-up check reports (Lambda's init error) when it refuses to
        run without every model, rather than waiting as readiness does.
        """
        return {
            name: reason for name, entry in self.repository.models.items() if (reason := entry.unavailable_reason()) is not None
        }

    async def load_default_versions(self) -> None:
        """Load every model's default version now, so no request pays for compiling (before a SnapStart snapshot)."""
        for entry in list(self.repository.models.values()):
            async with entry.use(None):
                pass

    # The set of models: what adapters list, describe, add and remove.

    def model_names(self) -> list[str]:
        """The served models' names, in configuration order (the first is the endpoint's default)."""
        return list(self.repository.models)

    def has_model(self, name: str) -> bool:
        return name in self.repository.models

    def model_config(self, name: str) -> ModelConfig:
        """How ``name`` is configured (its ``base_path`` is where it is read from); NotFound when it is not served."""
        return self.repository.get(name).config

    def versions_held(self) -> Iterator[tuple[str, str, ServedModel]]:
        """(model, state, served version) for every version the repository holds, loaded or not: what ``/metrics`` reads."""
        for name, entry in self.repository.models.items():
            for version_entry in list(entry.versions.values()):
                yield name, version_entry.state, version_entry.served

    def statuses_by_model(self) -> dict[str, list[VersionStatus]]:
        """Every model's version states (TF Serving's ``/v1/config``), empty for a model not discovered yet."""
        return {name: entry.statuses() for name, entry in self.repository.models.items()}

    async def add_model(self, config: ModelConfig, preload: bool = True) -> str | None:
        """Serve one more model: find its versions (compiling them when ``preload``) before it counts as added.

        Returns None once it can serve, else why it cannot, having removed it
        again, so a failed add leaves nothing behind and the caller decides what
        the reason means (SageMaker: out of memory is 507). Conflict when the
        name is taken; ConfigError when no storage serves ``base_path``. Other
        failures while listing or loading remove the model and propagate.
        """
        entry = self.repository.add(config)
        try:
            await entry.refresh(preload=preload)
        except Exception:
            await self.repository.remove(config.name, timeout=0)
            raise
        reason = entry.unavailable_reason()
        if reason is not None:
            await self.repository.remove(config.name, timeout=0)
        return reason

    async def remove_model(self, name: str, timeout: float) -> bool:
        """Stop routing to ``name`` at once; its versions unload when its requests finish.

        Returns False when requests were still running after ``timeout`` seconds
        (they unload as soon as the last one ends). NotFound when it is not served.
        """
        finished = await self.repository.remove(name, timeout)
        metrics.forget_model(name)  # gone for good (a multi-model endpoint's unload): its series go too
        return finished

    # The model repository API (KServe v2 / Triton): configured models taken out of service and brought back.

    def unloaded_models(self) -> dict[str, UnloadedModel]:
        """The configured models unloaded through the repository API, by name; they are not in ``model_names``."""
        return dict(self.repository.unloaded)

    def is_discovered(self, name: str) -> bool:
        """Whether ``name``'s storage has been listed once (before that it has no versions to report)."""
        return self.repository.get(name).discovered

    async def unload_model(self, name: str, timeout: float) -> bool:
        """``remove_model``, remembering the model: requests then hear it was unloaded, ``load_model`` brings it back.

        Returns what ``remove_model`` does (False: requests were still running after ``timeout``).
        NotFound when ``name`` is not served.
        """
        entry = self.repository.get(name)
        versions = tuple(s.version for s in entry.statuses() if s.state == AVAILABLE)
        self.repository.unloaded[name] = UnloadedModel(entry.config, versions, "unloaded")
        return await self.repository.remove(name, timeout)

    async def load_model(self, name: str) -> str | None:
        """Serve ``name`` with its versions compiled now; None once it can serve, else why it cannot.

        An unloaded model comes back from its remembered configuration; when it
        cannot serve it stays unloaded, its reason saying why. A served model
        re-scans its storage (new versions are compiled before they replace old
        ones) and compiles every version it serves, so no request pays for it.
        NotFound when ``name`` is neither served nor unloaded.
        """
        unloaded = self.repository.unloaded.get(name)
        if unloaded is not None:
            reason: str | None = "the load was interrupted"
            try:
                reason = await self.add_model(unloaded.config, preload=True)
            except OvserveError as exc:
                reason = exc.message
            finally:
                if reason is not None:  # add_model removed it again (or was cancelled): still unloaded, saying why
                    stray = self.repository.models.pop(name, None)
                    if stray is not None:
                        stray.unload_all("load interrupted")
                    self.repository.unloaded[name] = UnloadedModel(
                        unloaded.config, unloaded.versions, f"unloaded; loading it again failed: {reason}")
            return reason
        entry = self.repository.get(name)
        await entry.refresh(preload=True)
        for status in entry.statuses():
            if status.state != AVAILABLE:
                continue
            try:
                async with entry.use(status.version):
                    pass
            except OvserveError:
                pass  # marked failed by the load; the reason below (or another version) tells
        return entry.unavailable_reason()
