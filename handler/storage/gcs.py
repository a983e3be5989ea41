"""Models in Google Cloud Storage, listed and fetched with google-cloud-storage.

Credentials come from ``GOOGLE_APPLICATION_CREDENTIALS`` or the usual Google
default chain; without any, the client is anonymous (public buckets).
``STORAGE_EMULATOR_HOST`` points it at an emulator. Each object's
generation is its change tag. Calls carry short timeouts and no client-side
retries: a poll during an outage must fail fast, not hang for minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import StorageError
from .objects import ObjectStoreStorage, split_url, stream_to_file

_TIMEOUT = (5, 60)


def _client() -> Any:
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage

    try:
        return storage.Client()
    except (DefaultCredentialsError, OSError):
        return storage.Client.create_anonymous_client()


class GCSStorage(ObjectStoreStorage):
    """Version folders under ``gs://bucket/prefix``, mirrored into a local cache."""

    def __init__(self, url: str, cache_root: Path | None = None) -> None:
        self.bucket, prefix = split_url(url, "gs")
        super().__init__(url, prefix, cache_root)

    def make_client(self) -> Any:
        return _client()

    def _failure(self, exc: Exception, doing: str) -> StorageError:
        code = getattr(exc, "code", None)
        if code is not None:
            return StorageError(f"cannot {doing} {self.url}: {type(exc).__name__} ({code})")
        return StorageError(f"cannot reach {self.url}: {type(exc).__name__}")

    def objects(self) -> Iterator[tuple[str, str, int]]:
        try:
            blobs = self._client().list_blobs(self.bucket, prefix=self.prefix, timeout=_TIMEOUT, retry=None)
            listed = [(blob.name, str(blob.generation), int(blob.size or 0)) for blob in blobs]
        except Exception as exc:  # google.api_core and requests errors alike
            raise self._failure(exc, "list") from None
        return iter(listed)

    def download(self, key: str, target: Path) -> None:
        def write(out: IO[bytes]) -> None:  # the client is made inside: its errors are storage errors too
            self._client().bucket(self.bucket).blob(key).download_to_file(out, timeout=_TIMEOUT, retry=None)

        stream_to_file(target, write, lambda exc: self._failure(exc, "download"))
