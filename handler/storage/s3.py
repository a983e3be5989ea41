"""Models in S3 (and S3-compatible stores: MinIO, moto), listed and fetched with boto3.

Configuration is the one users already have: the standard AWS chain
(environment, profile, IAM role), ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``
(read by boto3 itself), OVMS's ``S3_ENDPOINT`` (``host:port``) and
``AWS_REGION``. With no credentials anywhere, requests go unsigned, which
public buckets accept. These are read here, where the client is built, not in
the settings objects: they are the SDK's own configuration, most of which
boto3 reads itself, and they must mean exactly what AWS documents. boto3 is imported only when an s3:// path is served.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StorageError
from .objects import ObjectStoreStorage, split_url


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, "prefix/")."""
    return split_url(url, "s3")


def client() -> Any:
    """A boto3 S3 client configured from the environment (endpoints, region, unsigned when there are no credentials)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    endpoint = None
    legacy = os.environ.get("S3_ENDPOINT", "").strip()
    if legacy and not (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")):
        endpoint = legacy if "://" in legacy else f"http://{legacy}"
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    options: dict[str, Any] = {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5, "read_timeout": 60}
    if endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        options["s3"] = {"addressing_style": "path"}  # MinIO and emulators serve buckets under the path
    if session.get_credentials() is None:
        options["signature_version"] = UNSIGNED
    return session.client("s3", endpoint_url=endpoint, config=Config(**options))


def _failure(url: str, exc: Exception, doing: str) -> StorageError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return StorageError(f"cannot {doing} {url}: {exc.response.get('Error', {}).get('Code', 'error')}")
    return StorageError(f"cannot reach {url}: {type(exc).__name__}")


class S3Storage(ObjectStoreStorage):
    """Version folders under ``s3://bucket/prefix``, mirrored into a local cache."""

    def __init__(self, url: str, cache_root: Path | None = None) -> None:
        self.bucket, prefix = parse_url(url)
        super().__init__(url, prefix, cache_root)

    def make_client(self) -> Any:
        return client()

    def objects(self) -> Iterator[tuple[str, str, int]]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            listed = [(i["Key"], i.get("ETag", "").strip('"'), i["Size"]) for page in pages for i in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _failure(self.url, exc, "list") from None
        return iter(listed)

    def download(self, key: str, target: Path) -> None:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client().download_file(self.bucket, key, str(target))  # streams to disk in parts
        except (ClientError, BotoCoreError, Boto3Error) as exc:  # Boto3Error: the transfer manager's retries ran out
            raise _failure(self.url, exc, "download") from None


def s3_archive(url: str, cache_root: Path | None, max_bytes: int) -> Any:
    """``s3://bucket/key.tar.gz``: fingerprinted by ETag, downloaded only when it changed."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .archives import ArchiveStorage

    bucket, key = parse_url(url)
    key = key.rstrip("/")
    store = S3Storage(f"s3://{bucket}", cache_root)

    def stat() -> str:
        try:
            head = store._client().head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _failure(url, exc, "read") from None
        return f"{head.get('ETag', '').strip(chr(34))}-{head.get('ContentLength', 0)}"

    def fetch(scratch: Path) -> Path:
        store.download(key, scratch)
        return scratch

    return ArchiveStorage(url, stat, fetch, cache_root, max_bytes)
