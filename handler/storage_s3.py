"""Models in S3 (and S3-compatible stores: MinIO, moto), listed and fetched with boto3.

Configuration is the one users already have: the standard AWS chain
(environment, profile, IAM role), ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``
(read by boto3 itself), OVMS's ``S3_ENDPOINT`` (``host:port``) and
``AWS_REGION``. With no credentials anywhere, requests go unsigned, which
public buckets accept. boto3 is imported only when an s3:// path is served.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from .errors import ConfigError, StorageError
from .model_files import MODEL_SUFFIXES
from .remote_cache import RemoteFile, RemoteVersionCache, default_root, fingerprint


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, "prefix/")."""
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(f"base_path: {url!r} names no bucket; expected s3://bucket/path/to/model")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _client() -> Any:
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


def _is_model_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "/" not in path and (name == "saved_model.pb" or any(name.lower().endswith(s) for s in MODEL_SUFFIXES))


class S3Storage:
    """Version folders under ``s3://bucket/prefix``, mirrored into a local cache."""

    def __init__(self, url: str, cache_root: Path | None = None) -> None:
        self.url = url
        self.bucket, self.prefix = parse_url(url)
        self.cache = RemoteVersionCache(cache_root or default_root(url))
        self._client_instance: Any = None
        self._files: dict[int, list[RemoteFile]] = {}
        self._skipped: list[str] = []

    def _client(self) -> Any:
        if self._client_instance is None:
            self._client_instance = _client()
        return self._client_instance

    def _list(self) -> dict[int, list[RemoteFile]]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: dict[int, list[RemoteFile]] = defaultdict(list)
        try:
            pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    relative = item["Key"][len(self.prefix):]
                    version, _, path = relative.partition("/")
                    if not (version.isascii() and version.isdigit()) or int(version) < 1 or not path or path.endswith("/"):
                        continue
                    found[int(version)].append(RemoteFile(path, item["Key"], item.get("ETag", "").strip('"'), item["Size"]))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StorageError(f"cannot list {self.url}: {code}") from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        return found

    def list_versions(self) -> dict[int, str]:
        listed = self._list()
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
        from botocore.exceptions import BotoCoreError, ClientError

        files = self._files.get(version)
        if files is None:
            files = self._list().get(version, [])
        client = self._client()

        def download(key: str, target: Path) -> None:
            client.download_file(self.bucket, key, str(target))  # streams to disk in parts

        try:
            return self.cache.fetch(version, files, download)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot download version {version} from {self.url}: {type(exc).__name__}") from None


def s3_archive(url: str, cache_root: Path | None) -> Any:
    """``s3://bucket/key.tar.gz``: fingerprinted by ETag, downloaded only when it changed."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .archives import ArchiveStorage

    bucket, key = parse_url(url)
    key = key.rstrip("/")
    client: list[Any] = []

    def s3() -> Any:
        if not client:
            client.append(_client())
        return client[0]

    def stat() -> str:
        try:
            head = s3().head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise StorageError(f"cannot read {url}: {exc.response.get('Error', {}).get('Code', 'error')}") from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot reach {url}: {type(exc).__name__}") from None
        return f"{head.get('ETag', '').strip(chr(34))}-{head.get('ContentLength', 0)}"

    def fetch(target: Path) -> None:
        try:
            s3().download_file(bucket, key, str(target))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot download {url}: {type(exc).__name__}") from None

    return ArchiveStorage(url, stat, fetch, cache_root)
