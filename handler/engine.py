"""The facade every adapter calls: predict, metadata, status.

Adapters parse their transport and call one codec; the engine finds the
model version (policy, default version, lazy load) and keeps it in use for
the whole request, so a version swap never cuts a request short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .batching import infer_records
from .config import ModelConfig
from .errors import NotFound
from .repository import Repository, VersionStatus
from .signature import Signature

# Turns a decoded request into typed arrays once the model's signature is known.
ArrayBuilder = Callable[[Signature], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Prediction:
    """What a predict produced, and which version produced it."""

    model: str
    version: int
    outputs: dict[str, np.ndarray]


class Engine:
    """Inference, metadata and status over a repository of models."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
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
    ) -> Prediction:
        """Run one request against ``model`` (default version when ``version`` is None).

        ``records``: the inputs' first dimension counts records of any number; they
        run in batches the model takes and come back one output row per record.
        """
        entry = self.repository.get(model)
        version_entry = await entry.acquire(version)
        try:
            served = version_entry.served
            arrays = build_arrays(served.signature)
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
        """Version states; with ``version``, just that one (NotFound if it was never seen)."""

        statuses = self.repository.get(model).statuses()
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
        if not self.started:
            return "models are still being discovered"
        for name, entry in self.repository.models.items():
            reason = entry.unavailable_reason()
            if reason is not None:
                return f"model {name} has no version to serve: {reason}"
        return None

    def is_ready(self) -> bool:
        return self.not_ready_reason() is None
