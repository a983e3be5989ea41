"""Reading an S3 object in chunks of whole lines, and writing an answer with multipart upload.

A batch object can be far larger than what its records cost to hold once
decoded (CSV rows became about 24 times their size in arrays, lists and
answer strings). Reading whole lines a few MiB at a time and writing the
answer in 8 MiB parts keeps the peak memory a small multiple of one chunk,
whatever the object's size. Every boto3 call is blocking and runs off the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from ovserve.handler.errors import InvalidInput

log = logging.getLogger("ovserve.lambda")
PART_BYTES = 8 * 1024 * 1024  # S3 takes parts of 5 MiB or more (but the last); 10,000 parts: up to 78 GiB of answer


async def blocking(call: Callable[[], Any]) -> Any:
    """A blocking boto3 call, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, call)


class Lines:
    """An object body read as chunks of whole lines; ``first_line`` is the 1-based number of a chunk's first line."""

    def __init__(self, body: Any, chunk_bytes: int, max_line_bytes: int, what: str) -> None:
        self._body = body
        self._chunk_bytes = chunk_bytes
        self._max_line_bytes = max_line_bytes
        self._what = what
        self._pending = bytearray()
        self._eof = False
        self.first_line = 1

    async def _fill(self) -> bool:
        """Read one more block into the buffer; False at the end of the object."""
        if self._eof:
            return False
        block = await blocking(lambda: self._body.read(self._chunk_bytes))
        if not block:
            self._eof = True
            return False
        self._pending += block
        return True

    async def head(self) -> tuple[bytes, bool]:
        """The buffered start of the object up to its first line end (reading as needed), and whether that is all of it."""
        while b"\n" not in self._pending.lstrip() and await self._fill():
            if len(self._pending) > self._max_line_bytes:
                break
        return bytes(self._pending), self._eof

    async def rest(self) -> bytes:
        """Everything not yet returned (for an object read whole); the caller has bounded its size."""
        while await self._fill():
            pass
        whole, self._pending = bytes(self._pending), bytearray()
        return whole

    async def chunks(self) -> AsyncIterator[bytes]:
        """Chunks of about ``chunk_bytes`` that end at a line end (the last one at the object's end)."""
        while True:
            while len(self._pending) < self._chunk_bytes and await self._fill():
                pass
            cut = self._pending.rfind(b"\n") + 1
            if self._eof:
                cut = len(self._pending)
            elif cut == 0:  # one line longer than a chunk: keep reading it, within bounds
                if len(self._pending) > self._max_line_bytes:
                    raise InvalidInput(f"{self._what} line {self.first_line} is longer than {self._max_line_bytes} bytes "
                                       "(OVSERVE_MAX_DOCUMENT_MB); expected one record per line")
                await self._fill()
                continue
            if cut == 0:
                return
            chunk = bytes(self._pending[:cut])
            del self._pending[:cut]
            yield chunk
            self.first_line += chunk.count(b"\n")


class Upload:
    """An answer written as it is produced: one PUT when it stays small, parts of ``PART_BYTES`` otherwise."""

    def __init__(self, client: Any, bucket: str, key: str, content_type: str) -> None:
        self._client, self._bucket, self._key, self._type = client, bucket, key, content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self.size = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART_BYTES:
            await self._send_part()

    async def _send_part(self) -> None:
        if self._upload_id is None:
            created = await blocking(lambda: self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._type))
            self._upload_id = created["UploadId"]
        number, data = len(self._parts) + 1, bytes(self._buffer)
        self._buffer.clear()
        sent = await blocking(lambda: self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data))
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    async def finish(self) -> None:
        if self._upload_id is None:
            data = bytes(self._buffer)
            await blocking(lambda: self._client.put_object(Bucket=self._bucket, Key=self._key, Body=data,
                                                           ContentType=self._type))
            return
        if self._buffer:
            await self._send_part()
        await blocking(lambda: self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}))

    async def abort(self) -> None:
        """Drop the parts sent so far, so a failed object leaves neither an answer nor billed fragments."""
        if self._upload_id is None:
            return
        try:
            await blocking(lambda: self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id))
        except Exception as exc:  # the object's own failure is what gets reported
            log.warning("could not abort a multipart upload", extra={"output": f"s3://{self._bucket}/{self._key}",
                                                                    "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
