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
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ModelLoadError

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
        """The local folder for ``version`` with exactly ``files``; ``download(key, target)`` streams one object."""
        folder = self.root / str(version)
        with self._lock(version):
            manifest_path = folder / MANIFEST
            try:
                previous = json.loads(manifest_path.read_text())
            except (OSError, ValueError):
                previous = {}
            folder.mkdir(parents=True, exist_ok=True)
            wanted: dict[str, str] = {}
            for item in files:
                relative = safe_relative(item.path)
                if relative is None:
                    raise ModelLoadError(f"refusing object {item.key!r}: its path leaves the version folder")
                target = folder / relative
                wanted[str(relative)] = item.etag
                if previous.get(str(relative)) == item.etag and target.is_file() and target.stat().st_size == item.size:
                    continue  # unchanged since the last fetch
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".part")
                download(item.key, partial)
                if partial.stat().st_size != item.size:
                    partial.unlink(missing_ok=True)
                    raise ModelLoadError(f"object {item.key!r} arrived incomplete; it will be fetched again")
                os.replace(partial, target)
            for stale in set(previous) - set(wanted):
                (folder / stale).unlink(missing_ok=True)
            staged = manifest_path.with_name(MANIFEST + ".part")
            staged.write_text(json.dumps(wanted))
            os.replace(staged, manifest_path)
        return folder
