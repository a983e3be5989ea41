"""Models in Azure Blob Storage (``azure://container/prefix`` or ``az://…``), via azure-storage-blob.

The account and its key come from ``AZURE_STORAGE_CONNECTION_STRING``, as
OVMS reads them; the connection string never reaches a log or an error
message. It is read where the client is built, not in the settings objects:
it is the SDK's own configuration, and a secret that should live nowhere else. Each blob's ETag is its change tag.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StorageError
from .objects import ObjectStoreStorage, split_url, stream_to_file

_TIMEOUT = 60


def _container(name: str) -> Any:
    from azure.storage.blob import BlobServiceClient

    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "")
    if not connection:
        raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: missing; expected the storage account's connection string")
    try:
        service = BlobServiceClient.from_connection_string(connection, retry_total=0, connection_timeout=5)
    except ValueError:
        raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: not a valid connection string") from None
    return service.get_container_client(name)


class AzureStorage(ObjectStoreStorage):
    """Version folders under ``azure://container/prefix``, mirrored into a local cache."""

    def __init__(self, url: str, cache_root: Path | None = None) -> None:
        scheme = url.split("://", 1)[0]
        self.container, prefix = split_url(url, scheme)
        super().__init__(url, prefix, cache_root)

    def make_client(self) -> Any:
        return _container(self.container)

    def _failure(self, exc: Exception, doing: str) -> StorageError:
        code = getattr(exc, "error_code", None) or getattr(exc, "status_code", None)
        if code:
            return StorageError(f"cannot {doing} {self.url}: {code}")
        return StorageError(f"cannot reach {self.url}: {type(exc).__name__}")

    def objects(self) -> Iterator[tuple[str, str, int]]:
        try:
            blobs = self._client().list_blobs(name_starts_with=self.prefix, timeout=_TIMEOUT)
            listed = [(blob.name, str(blob.etag).strip('"'), int(blob.size or 0)) for blob in blobs]
        except ConfigError:
            raise
        except Exception as exc:  # azure.core errors and connection failures alike
            raise self._failure(exc, "list") from None
        return iter(listed)

    def download(self, key: str, target: Path) -> None:
        stream_to_file(target, lambda out: self._client().download_blob(key, timeout=_TIMEOUT).readinto(out),  # in chunks
                       lambda exc: self._failure(exc, "download"))
