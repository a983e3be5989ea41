"""S3 events: each new object is a batch of records, answered as ``<prefix><key>.out``.

A ``.csv`` object holds CSV rows, ``.jsonl``/``.jsonlines``/``.ndjson`` JSON
Lines, ``.json`` a TF Serving body or JSON lines; otherwise the object's own
Content-Type decides. Records run in the model's batch size (the same path
as SageMaker batch transform) and the answer keeps the input's type, one
output record per input record, in order. A ``.jpg``/``.jpeg``/``.png``
object is one image for the model's single input, answered as one JSON
document (``{"predictions": ...}``) as ``/invocations`` answers an image
body, so a bucket of photos needs no conversion step. Outputs go to
``OVSERVE_OUTPUT_BUCKET`` (default: the same bucket) under
``OVSERVE_OUTPUT_PREFIX``, and objects under that prefix are never taken as
input, so the function cannot trigger itself in a loop.

Line-based objects stream: ``OVSERVE_S3_CHUNK_MB`` of whole lines at a time are
decoded, inferred and appended to a multipart upload, so memory does not grow
with the object. A ``.json`` object that is one TF Serving document cannot be
cut at lines; it is read whole, up to ``OVSERVE_MAX_DOCUMENT_MB``. Every
record is validated inside the per-object accounting: a malformed record is
one failure in ``BatchFailed`` like a bad object, never a raw Python error.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

import orjson

from ovserve.handler import offload
from ovserve.handler.codecs import media_types, registry
from ovserve.handler.errors import InvalidInput, OvserveError
from ovserve.handler.infer_request import InferRequest

from .runtime import Runtime
from .s3_stream import Lines, Upload, blocking

log = logging.getLogger("ovserve.lambda")

_BY_SUFFIX = {
    ".csv": media_types.CSV,
    ".jsonl": media_types.JSONLINES,
    ".jsonlines": media_types.JSONLINES,
    ".ndjson": media_types.JSONLINES,
    ".json": media_types.JSON,
    ".jpg": media_types.JPEG,
    ".jpeg": media_types.JPEG,
    ".png": media_types.PNG,
}
_RECORD = 'expected an S3 event record: {"eventSource": "aws:s3", "s3": {"bucket": {"name": ...}, "object": {"key": ...}}}'


class BatchFailed(Exception):
    """Some objects could not be processed; raised so Lambda retries the event and then sends it to its DLQ."""

    def __init__(self, message: str, failed: int) -> None:
        super().__init__(message)
        self.failed = failed  # how many objects: the invocation's Errors metric


def is_s3(event: Any) -> bool:
    """An S3 notification: a ``Records`` list where a record says ``aws:s3`` (the others are then checked one by one)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and isinstance(records, list) and any(
        isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records
    )


def _field(parent: dict, path: str) -> Any:
    value: Any = parent
    for depth, name in enumerate(path.split(".")):
        if not isinstance(value, dict) or name not in value:
            shown = ".".join(path.split(".")[: depth + 1])
            raise InvalidInput(f'"{shown}" is missing; {_RECORD}')
        value = value[name]
    return value


def _location(record: Any) -> tuple[str, str]:
    """(bucket, decoded key) of one record; InvalidInput names the field that is not what S3 sends."""
    if not isinstance(record, dict):
        raise InvalidInput(f"the record is a JSON {type(record).__name__}; {_RECORD}")
    if record.get("eventSource") != "aws:s3":
        raise InvalidInput(f'"eventSource" is {str(record.get("eventSource"))[:40]!r}; {_RECORD}')
    found = []
    for path in ("s3.bucket.name", "s3.object.key"):
        value = _field(record, path)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f'"{path}" is a JSON {type(value).__name__}; {_RECORD}')
        found.append(value)
    return found[0], unquote_plus(found[1])


def _media_type(key: str, declared: str | None) -> str:
    for suffix, media in _BY_SUFFIX.items():
        if key.lower().endswith(suffix):
            return media
    found = media_types.canonical(declared or "") or media_types.image_type(declared or "")
    if found in (media_types.CSV, media_types.JSONLINES, media_types.JSON, *media_types.IMAGES):
        return found
    raise InvalidInput(f"{key}: cannot tell its format; expected a .csv, .jsonl, .json, .jpg, .jpeg or .png object "
                       "(or that Content-Type)")


def _renumbered(message: str, media: str, lines_before: int, records_before: int) -> str:
    """A codec's message about one chunk, with its row, line and instance numbers counted from the object's start."""
    if media == media_types.CSV:
        message = re.sub(r"\b(CSV row |row )(\d+)", lambda m: f"{m[1]}{int(m[2]) + records_before}", message)
    else:
        message = re.sub(r"\b(JSON Lines line )(\d+)", lambda m: f"{m[1]}{int(m[2]) + lines_before}", message)
    return re.sub(r"\b(instance )(\d+)", lambda m: f"{m[1]}{int(m[2]) + records_before}", message)


def _rows(outputs: dict) -> int:
    return int(next(iter(outputs.values())).shape[0])


def _starts_with_a_record(head: bytes, whole: bool) -> bool:
    """Whether a ``.json`` object is JSON Lines: its first line is a JSON value on its own and more lines follow."""
    stripped = head.lstrip()
    end = stripped.find(b"\n")
    if end < 0 or (whole and not stripped[end:].strip()):
        return False
    try:
        orjson.loads(stripped[:end])
    except orjson.JSONDecodeError:
        return False
    return True


async def _predict(runtime: Runtime, media: str, body: bytes) -> tuple[bytes, int]:
    """One chunk (or document) decoded, inferred and encoded; chunks of megabytes decode and encode off the loop."""
    decoded = await offload.sized(len(body), lambda: registry.decode(media, body))
    # Every S3 object is a batch of records, even a single TF Serving document: one answer row per record.
    request = InferRequest(runtime.default_model(), None, decoded.arrays, records=True, work_bytes=decoded.work_bytes)
    prediction = await runtime.engine.predict(request)
    outputs = prediction.outputs
    answer = await offload.sized(sum(array.nbytes for array in outputs.values()),
                                 lambda: registry.encode(media, outputs, decoded.form, prediction.model, prediction.version))
    return answer, _rows(outputs)


async def _image(runtime: Runtime, media: str, data: bytes) -> bytes:
    """One image object's answer: one JSON document, the model's outputs for that one image (a batch of one)."""
    decoded = registry.decode(media, data)  # JPEG or PNG by its magic bytes; the engine decodes it on a worker thread
    request = InferRequest(runtime.default_model(), None, decoded.arrays, work_bytes=decoded.work_bytes)
    prediction = await runtime.engine.predict(request)
    outputs = prediction.outputs
    return await offload.sized(sum(array.nbytes for array in outputs.values()), lambda: registry.encode(
        media_types.JSON, outputs, decoded.form, prediction.model, prediction.version))


async def _records(runtime: Runtime, media: str, lines: Lines, out: Upload) -> int:
    """Stream CSV or JSON Lines records: one chunk of whole lines decoded, inferred and written at a time."""
    count = 0
    async for chunk in lines.chunks():
        if not chunk.strip():
            continue
        try:
            answer, rows = await _predict(runtime, media, chunk)
        except InvalidInput as exc:
            raise InvalidInput(_renumbered(exc.message, media, lines.first_line - 1, count)) from None
        if count:
            await out.write(b"\n")  # the codecs end no answer with a newline; records stay one per line
        await out.write(answer)
        del answer
        count += rows
    if not count:
        kind = "CSV rows" if media == media_types.CSV else "JSON Lines records"
        raise InvalidInput(f"the object has no records; expected {kind}, one per line")
    return count


async def _one(runtime: Runtime, client: Any, bucket: str, key: str) -> dict:
    settings = runtime.settings
    source, out_bucket, out_key = f"s3://{bucket}/{key}", settings.output_bucket or bucket, f"{settings.output_prefix}{key}.out"
    head = await blocking(lambda: client.head_object(Bucket=bucket, Key=key))
    size = head["ContentLength"]
    if size > settings.max_object_bytes:
        raise InvalidInput(f"{source} is {size} bytes; expected at most {settings.max_object_bytes} (OVSERVE_MAX_OBJECT_MB)")
    media = _media_type(key, head.get("ContentType"))
    body = (await blocking(lambda: client.get_object(Bucket=bucket, Key=key)))["Body"]
    lines = Lines(body, settings.chunk_bytes, settings.max_document_bytes, "CSV" if media == media_types.CSV else "JSON Lines")
    out = Upload(client, out_bucket, out_key, media_types.JSON if media_types.is_image(media) else media)
    try:
        if media_types.is_image(media):
            if size > settings.max_document_bytes:
                raise InvalidInput(f"{source} is an image of {size} bytes, which is read whole; expected at most "
                                   f"{settings.max_document_bytes} (OVSERVE_MAX_DOCUMENT_MB)")
            await out.write(await _image(runtime, media, await lines.rest()))
            count = 1
        elif media != media_types.JSON:
            count = await _records(runtime, media, lines, out)
        elif _starts_with_a_record(*await lines.head()):
            count = await _records(runtime, media_types.JSONLINES, lines, out)  # answered as lines, typed JSON
        else:
            if size > settings.max_document_bytes:
                raise InvalidInput(
                    f"{source} is {size} bytes of one JSON document, which is read whole; expected at most "
                    f"{settings.max_document_bytes} (OVSERVE_MAX_DOCUMENT_MB), or JSON Lines (one record per line), "
                    "which stream in chunks of any total size"
                )
            answer, count = await _predict(runtime, media, await lines.rest())
            await out.write(answer)
            del answer
        await out.finish()
    except BaseException:
        await out.abort()
        raise
    finally:
        body.close()
    log.info("object processed", extra={"input": source, "output": f"s3://{out_bucket}/{out_key}", "records": count,
                                        "output_bytes": out.size})
    return {"input": source, "output": f"s3://{out_bucket}/{out_key}", "records": count}


async def process(runtime: Runtime, event: dict) -> dict:
    """Every record of the event; raises BatchFailed listing the ones that failed, after trying them all."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ovserve.handler.storage.s3 import client as s3_client

    client = s3_client()
    done, skipped, failed = [], [], []
    records = event["Records"]
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        try:
            bucket, key = _location(record)
            where = f"s3://{bucket}/{key}"
            out_bucket = runtime.settings.output_bucket or bucket
            if out_bucket == bucket and key.startswith(runtime.settings.output_prefix):
                log.info("skipped: an output object", extra={"input": where})
                skipped.append(where)
                continue
            done.append(await _one(runtime, client, bucket, key))
        except OvserveError as exc:
            reason = f"{type(exc).__name__}: {exc.message}"
            log.error("object failed", extra={"input": where, "reason": reason})
            failed.append(f"{where}: {reason}")
        except (BotoCoreError, ClientError) as exc:  # a missing object, denied access, S3 unreachable
            reason = f"StorageError: {type(exc).__name__}: {str(exc)[:300]}"
            log.error("object failed", extra={"input": where, "reason": reason})
            failed.append(f"{where}: {reason}")
        except Exception as exc:  # a bug: reported as one, and the other objects still run
            log.error("object failed unexpectedly", exc_info=exc, extra={"input": where})
            failed.append(f"{where}: InternalError: {type(exc).__name__}; see the function's log")
    if failed:
        raise BatchFailed(f"{len(failed)} of {len(records)} objects failed: {' | '.join(failed)}", len(failed))
    return {"processed": done, "skipped": skipped}
