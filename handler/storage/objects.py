"""What S3, GCS and Azure have in common: version folders as key prefixes, mirrored locally.

A backend lists objects under a prefix (key, ETag/generation, size) and
streams one object to a file; this class groups keys into numbered version
folders, fingerprints each version from its objects, and fetches a version
into the local cache (``remote_cache``) only when asked to load it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .model_files import MODEL_SUFFIXES
from .remote_cache import RemoteFile, RemoteVersionCache, default_root, fingerprint


def _is_model_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "/" not in path and (name == "saved_model.pb" or any(name.lower().endswith(s) for s in MODEL_SUFFIXES))


def split_url(url: str, scheme: str) -> tuple[str, str]:
    """``scheme://container/prefix`` -> (container, "prefix/")."""
    from ..errors import ConfigError

    container, _, prefix = url[len(scheme) + 3:].partition("/")
    if not container:
        raise ConfigError(f"base_path: {url!r} names no bucket; expected {scheme}://bucket/path/to/model")
    prefix = prefix.strip("/")
    return container, f"{prefix}/" if prefix else ""


def stream_to_file(target: Path, write: Callable[[IO[bytes]], None], failure: Callable[[Exception], Exception]) -> None:
    """Open ``target``, then let the client ``write`` the object into it; the client's errors become ``failure(exc)``.

    The file is opened before the network call, so an OSError there (a key too long
    for the file system, a key under another key's file) is the cache's own error
    and fails the version with that reason, not a storage outage.
    """
    with open(target, "wb") as out:
        try:
            write(out)
        except Exception as exc:  # the client library's errors and connection failures alike
            raise failure(exc) from None


class ObjectStoreStorage:
    """Version folders under ``url``; subclasses provide ``objects`` and ``download``."""

    remote = True  # the repository fetches a version's files before calling it AVAILABLE

    def __init__(self, url: str, prefix: str, cache_root: Path | None) -> None:
        self.url = url
        self.prefix = prefix
        self.cache = RemoteVersionCache(cache_root or default_root(url))
        self._files: dict[int, list[RemoteFile]] = {}
        self._skipped: list[str] = []
        self._client_instance: Any = None

    def make_client(self) -> Any:
        """The backend's client library object (created on first use, not at start-up)."""
        raise NotImplementedError

    def _client(self) -> Any:
        if self._client_instance is None:
            self._client_instance = self.make_client()
        return self._client_instance

    def objects(self) -> Iterator[tuple[str, str, int]]:
        """(key, change tag, size) of every object under the prefix; raises StorageError."""
        raise NotImplementedError

    def download(self, key: str, target: Path) -> None:
        """Stream one object to ``target``; raises StorageError."""
        raise NotImplementedError

    def _grouped(self) -> dict[int, list[RemoteFile]]:
        found: dict[int, list[RemoteFile]] = defaultdict(list)
        for key, tag, size in self.objects():
            version, _, path = key[len(self.prefix):].partition("/")
            if not (version.isascii() and version.isdigit()) or int(version) < 1 or not path or path.endswith("/"):
                continue
            found[int(version)].append(RemoteFile(path, key, tag, size))
        return found

    def list_versions(self) -> dict[int, str]:
        listed = self._grouped()
        versions, skipped = {}, []
        for version, files in listed.items():
            if any(_is_model_file(f.path) for f in files):
                versions[version] = fingerprint(files)
            else:
                skipped.append(f"{version}: no model file")
        self._files = {v: listed[v] for v in versions}
        self._skipped = skipped
        return versions

    def skipped(self) -> list[str]:
        return list(self._skipped)

    def local_folder(self, version: int) -> Path:
        """Download what changed (blocking: callers run it on a worker thread)."""
        files = self._files.get(version)
        if files is None:
            files = self._grouped().get(version, [])
        return self.cache.fetch(version, files, self.download)
