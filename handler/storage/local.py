"""Version folders on a local file system, served where they are (no copy, no cache)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .model_files import find_model_file

# A version folder with more files than this is fingerprinted by its first ones only.
_MAX_FILES_FINGERPRINTED = 10_000


class LocalStorage:
    """Version folders on a local file system, served where they are.

    A folder holding a model file itself and no version folders (what
    SageMaker extracts from many ``model.tar.gz`` files) is served as version 1.
    """

    def __init__(self, base_path: str) -> None:
        self.base = Path(base_path)
        self._skipped: list[str] = []
        self._flat = False

    def list_versions(self) -> dict[int, str]:
        found: dict[int, str] = {}
        skipped: list[str] = []
        try:
            entries = list(os.scandir(self.base))
        except OSError:
            self._skipped = []
            return found
        for entry in entries:
            if not (entry.name.isascii() and entry.name.isdigit()) or int(entry.name) < 1:
                continue
            try:  # one unreadable entry (a symlink loop, no permission) must not hide the others
                if not entry.is_dir():
                    continue
                folder = Path(entry.path)
                if find_model_file(folder) is None:
                    skipped.append(f"{entry.name}: no model file")
                    continue
                found[int(entry.name)] = _fingerprint(folder)
            except OSError as exc:
                skipped.append(f"{entry.name}: cannot be read ({exc.strerror or type(exc).__name__})")
        self._skipped = skipped
        self._flat = not found and not skipped and find_model_file(self.base) is not None
        if self._flat:
            found[1] = _fingerprint(self.base)
        return found

    def skipped(self) -> list[str]:
        return list(self._skipped)

    def local_folder(self, version: int) -> Path:
        return self.base if self._flat and version == 1 else self.base / str(version)


def _fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of the folder's files, hashed."""
    digest = hashlib.sha1()
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(path, folder)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
            count += 1
            if count >= _MAX_FILES_FINGERPRINTED:
                return digest.hexdigest()
    return digest.hexdigest()
