"""A real storage with gates: the test decides when a listing or a version's fetch may go on.

Wraps any storage (a LocalStorage over real model folders, an S3Storage over
moto) and holds ``list_versions`` or ``local_folder(version)`` until the test
opens the gate, so "while version 1 is being fetched" is a state a test can
stand in, deterministically, instead of a race it hopes to win.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

GATE_SECONDS = 30  # a gate never left closed blocks a worker thread this long at most


class Gate:
    """``entered`` is set when the storage call arrives; it waits until ``open``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._opened = threading.Event()

    def pass_through(self) -> None:
        self.entered.set()
        self._opened.wait(GATE_SECONDS)

    def open(self) -> None:
        self._opened.set()


class GatedStorage:
    """``inner`` with gates on its listing and on fetching chosen versions."""

    def __init__(self, inner: Any, remote: bool | None = None) -> None:
        self.inner = inner
        self.remote = getattr(inner, "remote", False) if remote is None else remote
        self.listing: Gate | None = None
        self.fetches: dict[int, Gate] = {}
        self.failing: dict[int, Exception] = {}
        self.fetched: list[int] = []  # every local_folder call, in order

    def hold_listing(self) -> Gate:
        self.listing = Gate()
        return self.listing

    def hold_fetch(self, version: int) -> Gate:
        self.fetches[version] = Gate()
        return self.fetches[version]

    def open_all(self) -> None:
        for gate in [self.listing, *self.fetches.values()]:
            if gate is not None:
                gate.open()

    def list_versions(self) -> dict[int, str]:
        if self.listing is not None:
            self.listing.pass_through()
        return self.inner.list_versions()

    def skipped(self) -> list[str]:
        return self.inner.skipped()

    def fail_fetch(self, version: int, error: Exception) -> None:
        """``local_folder(version)`` raises ``error`` (a StorageError: the store failing mid-download)."""
        self.failing[version] = error

    def local_folder(self, version: int) -> Path:
        self.fetched.append(version)
        gate = self.fetches.get(version)
        if gate is not None:
            gate.pass_through()
        if version in self.failing:
            raise self.failing[version]
        return self.inner.local_folder(version)


def gate_storage(model: Any, remote: bool | None = None) -> GatedStorage:
    """Put a GatedStorage in front of ``model``'s (a ModelEntry) storage and return it."""
    gated = GatedStorage(model.storage, remote)
    model.storage = gated
    return gated


def hold_downloads(storage: Any, key_suffix: str) -> Gate:
    """Hold every ``download`` (a real one, to the real store) of a key ending in ``key_suffix`` until the gate opens."""
    gate = Gate()
    real = storage.download

    def download(key: str, target: Path) -> None:
        if key.endswith(key_suffix):
            gate.pass_through()
        real(key, target)

    storage.download = download
    return gate
