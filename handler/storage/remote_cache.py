"""A local copy of remote version folders, updated without re-downloading unchanged files.

Remote backends (S3 today) list a version's objects with their ETags and
sizes; ``fetch`` brings the local folder in line: unchanged files stay, new or
changed ones stream to a ``.part`` file and are renamed into place only once
complete, files gone remotely are removed. The manifest is written last, so a
folder is never taken for complete while files are still arriving.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import ModelLoadError

MANIFEST = ".ovserve-manifest.json"


@dataclass(frozen=True)
class RemoteFile:
    """One object of a version: ``path`` relative to the version folder, ``key`` the full remote name."""

    path: str
    key: str
    etag: str
    size: int


def safe_relative(path: str) -> PurePosixPath | None:
    """``path`` as a relative path that stays inside its folder, or None."""
    relative = PurePosixPath(path)
    if not path or relative.is_absolute() or any(part in ("", "..") for part in relative.parts) or "\\" in path:
        return None
    return relative


def fingerprint(files: list[RemoteFile]) -> str:
    digest = hashlib.sha1()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(f"{item.path}|{item.etag}|{item.size}\n".encode())
    return digest.hexdigest()


def default_root(url: str) -> Path:
    """Under the system temp dir, one folder per source URL."""
    return Path(tempfile.gettempdir()) / "ovserve-models" / hashlib.sha1(url.encode()).hexdigest()[:16]


class RemoteVersionCache:
    """Version folders of one remote model under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, version: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(version, threading.Lock())

    def fetch(self, version: int, files: list[RemoteFile], download: Callable[[str, Path], None]) -> Path:
        """The local folder for ``version`` with exactly ``files``; ``download(key, target)`` streams one object.

        Raises ModelLoadError for objects the cache cannot hold (a path leaving the
        folder, a name too long for the file system, a key under another key's file),
        naming the object and the file system's reason; StorageError from ``download``
        passes through (the store, not the version, is at fault).
        """
        folder = self.root / str(version)
        wanted: dict[str, RemoteFile] = {}
        for item in files:
            relative = safe_relative(item.path)
            if relative is None:
                raise ModelLoadError(f"refusing object {item.key!r}: its path leaves the version folder")
            wanted[str(relative)] = item
        with self._lock(version):
            manifest_path = folder / MANIFEST
            try:
                previous = json.loads(manifest_path.read_text())
            except (OSError, ValueError):
                previous = {}
            if not isinstance(previous, dict):
                previous = {}
            _write(lambda: folder.mkdir(parents=True, exist_ok=True), "the version folder")
            for stale in set(previous) - set(wanted):  # first, so a path freed by a removed object can be reused
                _write(lambda stale=stale: _remove(folder / stale), stale)
            for path, item in wanted.items():
                _write(lambda path=path, item=item: _bring(folder, path, item, previous.get(path), download), path)
            staged = manifest_path.with_name(MANIFEST + ".part")

            def write_manifest() -> None:
                staged.write_text(json.dumps({path: item.etag for path, item in wanted.items()}))
                os.replace(staged, manifest_path)

            _write(write_manifest, MANIFEST)
        return folder


def _bring(folder: Path, path: str, item: RemoteFile, previous_etag: str | None, download: Callable[[str, Path], None]) -> None:
    """One object into ``folder/path``: skipped when unchanged, else streamed to ``.part`` and renamed when complete."""
    target = folder / path
    if previous_etag == item.etag and target.is_file() and target.stat().st_size == item.size:
        return  # unchanged since the last fetch
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)  # a folder an earlier listing left where a file now goes
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    download(item.key, partial)
    if partial.stat().st_size != item.size:
        partial.unlink(missing_ok=True)
        raise ModelLoadError(f"object {item.key!r} arrived incomplete; it will be fetched again")
    os.replace(partial, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


_MAX_NAME_IN_MESSAGE = 120


def _write(step: Callable[[], None], path: str) -> None:
    """Run one file system step of a fetch; an OSError becomes a ModelLoadError naming the file and the reason."""
    try:
        step()
    except OSError as exc:
        shown = path if len(path) <= _MAX_NAME_IN_MESSAGE else path[:_MAX_NAME_IN_MESSAGE] + "…"
        reason = exc.strerror or type(exc).__name__
        raise ModelLoadError(f"cannot write {shown!r} into the model cache: {reason}") from None
