"""The facade every adapter calls: predict, metadata, status.

Adapters parse their transport and call one codec; the engine finds the
model version (policy, default version, lazy load) and keeps it in use for
the whole request, so a version swap never cuts a request short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import offload
from .codecs.limits import DEFAULT_MAX_RESPONSE_BYTES
from .errors import NotFound, NotReady
from .model import ServedModel
from .records import infer_records
from .repository import Repository
from .settings.config import ModelConfig
from .signature import Signature
from .status import VersionStatus
from .validation import prepare

# Turns a decoded request into typed arrays once the model's signature is known.
ArrayBuilder = Callable[[Signature], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Prediction:
    """What a predict produced, and which version produced it."""

    model: str
    version: int
    outputs: dict[str, np.ndarray]


async def _build(served: ServedModel, build_arrays: ArrayBuilder, from_json: bool, work_bytes: int) -> dict[str, np.ndarray]:
    """The request's arrays; large ones decoded and converted (``prepare``) off the loop."""
    relax = getattr(build_arrays, "without_shape_checks", None)
    if relax is not None and served.follows_request_shapes:
        build_arrays = relax()  # the model recompiles for the request's shapes: only types and sizes are checked early
    signature = served.signature
    if work_bytes < offload.OFFLOAD_AT_BYTES:
        return build_arrays(signature)
    return await offload.on_worker(lambda: prepare(build_arrays(signature), signature, from_json=from_json))


class Engine:
    """Inference, metadata and status over a repository of models."""

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

    async def predict(
        self,
        model: str,
        version: int | None,
        build_arrays: ArrayBuilder,
        from_json: bool = False,
        output_filter: list[str] | None = None,
        records: bool = False,
        work_bytes: int = 0,
    ) -> Prediction:
        """Run one request against ``model`` (default version when ``version`` is None).

        ``records``: the inputs' first dimension counts records of any number; they
        run in batches the model takes and come back one output row per record.
        ``work_bytes``: about how much ``build_arrays`` decodes or expands (the body
        size, a tensor's declared size); from ``offload.OFFLOAD_AT_BYTES`` on, the
        arrays are built and converted on a worker thread, so the loop keeps serving.
        """
        entry = self.repository.get(model)
        version_entry = await entry.acquire(version)
        try:
            served = version_entry.served
            if work_bytes < offload.OFFLOAD_AT_BYTES and not served.follows_request_shapes:
                arrays = build_arrays(served.signature)  # the hot path: small requests build on the loop
            else:
                arrays = await _build(served, build_arrays, from_json, work_bytes)
            if records:
                outputs = await infer_records(served, arrays, from_json=from_json, output_filter=output_filter)
            else:
                outputs = await served.infer(arrays, from_json=from_json, output_filter=output_filter)
            return Prediction(model, served.version, outputs)
        finally:
            entry.release(version_entry)

    async def metadata(self, model: str, version: int | None) -> tuple[int, Signature]:
        """The served version number and its signature (loads the version if needed)."""
        entry = self.repository.get(model)
        async with entry.use(version) as served:
            return served.version, served.signature

    def status(self, model: str, version: int | None) -> list[VersionStatus]:
        """Version states; with ``version``, just that one (NotFound if it was never seen).

        Before the model's storage has been listed once there is nothing to report:
        NotReady (503), not an empty 200, so a client waiting for AVAILABLE keeps waiting.
        """
        entry = self.repository.get(model)
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
