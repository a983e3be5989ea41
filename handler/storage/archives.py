"""``model.tar.gz`` (SageMaker's artifact format) as a model source, extracted safely.

Every member is checked before anything is written: no absolute paths, no
``..``, no links or device files, and a bound on the total size (declared
sizes are checked first, then bytes as they are written): the model's
``max_archive_bytes`` (``--max_archive_bytes`` / ``OVSERVE_MAX_ARCHIVE_BYTES``,
20 GiB by default). Extraction goes
to a scratch folder inside the cache and is renamed into place only when
complete. The archive may hold a version tree (``1/model.xml``…) or a single
model (served as version 1), at its top or inside one top-level folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import ModelLoadError, StorageError
from ..settings.config import DEFAULT_MAX_ARCHIVE_BYTES
from .model_files import find_model_file
from .remote_cache import default_root, safe_relative

DEFAULT_MAX_BYTES = DEFAULT_MAX_ARCHIVE_BYTES
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def extract_safely(archive: Path, target: Path, max_bytes: int) -> None:
    """Extract ``archive`` into the new folder ``target``; ModelLoadError names the first refused member."""
    name = archive.name
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            total = 0
            for member in members:
                if safe_relative(member.name.rstrip("/")) is None:
                    raise ModelLoadError(f"{name}: member {member.name!r} would be written outside the model folder")
                if not (member.isfile() or member.isdir()):
                    raise ModelLoadError(f"{name}: member {member.name!r} is a link or special file; only files and folders are accepted")
                total += member.size
                if total > max_bytes:
                    raise ModelLoadError(
                        f"{name}: members add up to more than {max_bytes} bytes; raise --max_archive_bytes (OVSERVE_MAX_ARCHIVE_BYTES)"
                    )
            scratch = target.with_name(target.name + ".part")
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            try:
                tar.extractall(scratch, members=members, filter="data")
                os.replace(scratch, target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ModelLoadError(f"{name} is not a readable tar archive: {exc}") from None


def version_folders(root: Path) -> dict[int, Path]:
    """Versions found in an extracted archive: numbered folders, or one model served as version 1."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].name.isdigit():
        root = entries[0]  # everything inside one top-level folder
    numbered = {
        int(p.name): p for p in root.iterdir() if p.is_dir() and p.name.isascii() and p.name.isdigit() and int(p.name) > 0
    }
    if numbered:
        return {v: p for v, p in numbered.items() if find_model_file(p) is not None}
    return {1: root} if find_model_file(root) is not None else {}


class ArchiveStorage:
    """A tarball (local or fetched) seen as a model's version folders."""

    def __init__(
        self, label: str, stat: Callable[[], str], fetch: Callable[[Path], Path], cache_root: Path | None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """``stat()`` fingerprints the archive (cheap); ``fetch(scratch)`` returns a local path to read it from.

        A remote archive is downloaded to ``scratch``; a local one is read where it is, never copied.
        ``max_bytes`` bounds the members' total size.
        """
        self.label = label
        self.max_bytes = max_bytes
        self._stat = stat
        self._fetch = fetch
        self.root = cache_root or default_root(label)
        self._lock = threading.Lock()
        self._versions: dict[int, Path] = {}
        self._extracted_for: str | None = None

    def list_versions(self) -> dict[int, str]:
        stamp = self._stat()
        with self._lock:
            if stamp != self._extracted_for:
                try:
                    self._versions = self._extract(stamp)
                except ModelLoadError as exc:  # a refused archive: no version of it is served
                    raise StorageError(f"refused {self.label}: {exc.message}") from None
                self._extracted_for = stamp
        return {version: f"{stamp}:{version}" for version in self._versions}

    def _extract(self, stamp: str) -> dict[int, Path]:
        folder = self.root / hashlib.sha1(stamp.encode()).hexdigest()[:16]
        if not folder.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            scratch = self.root / "archive.download"
            try:
                extract_safely(self._fetch(scratch), folder, self.max_bytes)
            finally:
                scratch.unlink(missing_ok=True)
        return version_folders(folder)

    def skipped(self) -> list[str]:
        return []

    def local_folder(self, version: int) -> Path:
        return self._versions[version]
