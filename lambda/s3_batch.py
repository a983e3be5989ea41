"""S3 events: each new object is a batch of records, answered as ``<prefix><key>.out``.

A ``.csv`` object holds CSV rows, ``.jsonl``/``.jsonlines``/``.ndjson`` JSON
Lines, ``.json`` a TF Serving body or JSON lines; otherwise the object's own
Content-Type decides. Records run in the model's batch size (the same path
as SageMaker batch transform) and the answer keeps the input's type, one
output record per input record, in order. Outputs go to
``OVSERVE_OUTPUT_BUCKET`` (default: the same bucket) under
``OVSERVE_OUTPUT_PREFIX``, and objects under that prefix are never taken as
input, so the function cannot trigger itself in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import unquote_plus

from ovserve.handler.codecs import media_types, registry
from ovserve.handler.errors import InvalidInput, OvserveError, StorageError
from ovserve.handler.values import parse_int

from .runtime import Runtime

log = logging.getLogger("ovserve.lambda")

_BY_SUFFIX = {
    ".csv": media_types.CSV,
    ".jsonl": media_types.JSONLINES,
    ".jsonlines": media_types.JSONLINES,
    ".ndjson": media_types.JSONLINES,
    ".json": media_types.JSON,
}
MAX_OBJECT_BYTES = parse_int(
    "OVSERVE_MAX_OBJECT_MB", os.environ.get("OVSERVE_MAX_OBJECT_MB") or "512", minimum=1, maximum=10_240
) * 1024 * 1024


class BatchFailed(Exception):
    """Some objects could not be processed; raised so Lambda retries the event and then sends it to its DLQ."""


def is_s3(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and isinstance(records, list) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records
    )


def _media_type(key: str, declared: str | None) -> str:
    for suffix, media in _BY_SUFFIX.items():
        if key.lower().endswith(suffix):
            return media
    found = media_types.canonical(declared or "")
    if found in (media_types.CSV, media_types.JSONLINES, media_types.JSON):
        return found
    raise InvalidInput(f"{key}: cannot tell its format; expected a .csv, .jsonl or .json object (or that Content-Type)")


async def _one(runtime: Runtime, client: Any, bucket: str, key: str) -> dict:
    settings = runtime.settings
    out_bucket = settings.output_bucket or bucket
    head = await _blocking(lambda: client.head_object(Bucket=bucket, Key=key))
    if head["ContentLength"] > MAX_OBJECT_BYTES:
        raise InvalidInput(f"s3://{bucket}/{key} is {head['ContentLength']} bytes; expected at most {MAX_OBJECT_BYTES} "
                           "(OVSERVE_MAX_OBJECT_MB)")
    media = _media_type(key, head.get("ContentType"))
    body = await _blocking(lambda: client.get_object(Bucket=bucket, Key=key)["Body"].read())
    decoded = registry.decode(media, body)
    model = runtime.default_model()
    prediction = await runtime.engine.predict(model, None, decoded.arrays, from_json=decoded.from_json, records=True)
    answer = registry.encode(media, prediction.outputs, decoded.form, prediction.model, prediction.version)
    out_key = f"{settings.output_prefix}{key}.out"
    await _blocking(lambda: client.put_object(Bucket=out_bucket, Key=out_key, Body=answer, ContentType=media))
    count = next(iter(prediction.outputs.values())).shape[0]
    log.info("object processed", extra={"input": f"s3://{bucket}/{key}", "output": f"s3://{out_bucket}/{out_key}",
                                        "records": int(count)})
    return {"input": f"s3://{bucket}/{key}", "output": f"s3://{out_bucket}/{out_key}", "records": int(count)}


async def _blocking(call: Any) -> Any:
    """A blocking boto3 call, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def process(runtime: Runtime, event: dict) -> dict:
    """Every object of the event; raises BatchFailed listing the ones that failed, after trying them all."""
    from ovserve.handler.storage_s3 import client as s3_client

    client = s3_client()
    done, skipped, failed = [], [], []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        out_bucket = runtime.settings.output_bucket or bucket
        if out_bucket == bucket and key.startswith(runtime.settings.output_prefix):
            log.info("skipped: an output object", extra={"input": f"s3://{bucket}/{key}"})
            skipped.append(f"s3://{bucket}/{key}")
            continue
        try:
            done.append(await _one(runtime, client, bucket, key))
        except OvserveError as exc:
            log.error("object failed", extra={"input": f"s3://{bucket}/{key}", "reason": exc.message})
            failed.append(f"s3://{bucket}/{key}: {exc.message}")
        except Exception as exc:  # botocore errors: missing object, denied access
            reason = StorageError(f"{type(exc).__name__}: {str(exc)[:300]}").message
            log.error("object failed", extra={"input": f"s3://{bucket}/{key}", "reason": reason})
            failed.append(f"s3://{bucket}/{key}: {reason}")
    if failed:
        raise BatchFailed(f"{len(failed)} of {len(event['Records'])} objects failed: {' | '.join(failed)}")
    return {"processed": done, "skipped": skipped}
