"""Where model versions live: the repository's view of a model's base path.

The repository needs three things from a storage: which version folders
exist (with a fingerprint that changes when their files change), and a local
folder holding a version's files. Local paths are served in place; remote
stores (S3, GCS, Azure) implement the same interface and fetch into a cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .local import LocalStorage


class Storage(Protocol):
    """What the repository asks of a place that holds models."""

    def list_versions(self) -> dict[int, str]:
        """Version number -> fingerprint, for folders that hold a model."""
        ...

    def skipped(self) -> list[str]:
        """Folders seen by the last listing that are not servable versions, and why."""
        ...

    def local_folder(self, version: int) -> Path:
        """A local folder with the version's files (fetching them first if remote)."""
        ...


def storage_for(base_path: str, cache_dir: str | None = None, max_archive_bytes: int | None = None) -> Storage:
    """The storage that serves ``base_path``: a folder, s3://, gs://, azure:// or a .tar.gz; remote ones mirror into ``cache_dir``.

    ``max_archive_bytes`` bounds what a .tar.gz may extract to (the model's setting; None: the default).
    """
    from .archives import DEFAULT_MAX_BYTES, is_archive
    from .remote_cache import default_root

    root = Path(cache_dir) / default_root(base_path).name if cache_dir else None
    if base_path.startswith("s3://"):
        _require("boto3", "s3", base_path)
        from .s3 import S3Storage, s3_archive

        return s3_archive(base_path, root, max_archive_bytes or DEFAULT_MAX_BYTES) if is_archive(base_path) else S3Storage(base_path, root)
    if base_path.startswith(("azure://", "az://")):
        _require("azure.storage.blob", "azure", base_path)
        from .azure import AzureStorage

        return AzureStorage(base_path, root)
    if base_path.startswith("gs://"):
        _require("google.cloud.storage", "gcs", base_path)
        from .gcs import GCSStorage

        return GCSStorage(base_path, root)
    if is_archive(base_path):
        return _local_archive(Path(base_path.removeprefix("file://")), root, max_archive_bytes or DEFAULT_MAX_BYTES)
    if "://" in base_path and not base_path.startswith("file://"):
        from ..errors import ConfigError

        scheme = base_path.split("://", 1)[0]
        raise ConfigError(f"base_path: {scheme}:// storage is not supported yet; expected a local folder, s3://, gs:// or azure://")
    return LocalStorage(base_path.removeprefix("file://"))


def _local_archive(path: Path, root: Path | None, max_bytes: int) -> Storage:
    from ..errors import StorageError
    from .archives import ArchiveStorage

    def stat() -> str:
        try:
            info = path.stat()
        except OSError:
            raise StorageError(f"cannot read {path}: no such archive") from None
        return f"{info.st_size}-{info.st_mtime_ns}"

    return ArchiveStorage(str(path), stat, lambda scratch: path, root, max_bytes)


def _require(module: str, extra: str, base_path: str) -> None:
    """A clear start-up error when the client library for ``base_path`` is not installed."""
    import importlib.util

    from ..errors import ConfigError

    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise ConfigError(f"base_path: {base_path} needs {module}; install ovserve[{extra}]")
