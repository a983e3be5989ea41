"""Content types by name: the canonical ones, their aliases, and ``Accept`` negotiation.

Adapters that take several body formats (SageMaker, Lambda) resolve the
request's ``Content-Type`` and ``Accept`` here, so a type means the same thing
on every platform and every refusal lists what would have worked.
"""

from __future__ import annotations

from ..errors import NotAcceptable, UnsupportedMediaType

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
MSGPACK = "application/msgpack"
PROTOBUF = "application/x-protobuf"
# A KServe v2 body with binary tensor data, as SageMaker users of AWS's Triton containers send it:
# ``;json-header-size=N`` (N bytes of JSON header, then the raw tensors) is its one parameter (sagemaker_v2).
V2_BINARY = "application/vnd.sagemaker-triton.binary+json"

SUPPORTED = (JSON, JSONLINES, CSV, NPY, NPZ, MSGPACK, PROTOBUF, V2_BINARY)

# One encoded image per request, as SageMaker's built-in image algorithms take it. Request types only: the answer is
# the model's outputs in any type above, so an ``Accept`` (or a default answer type) naming an image is never chosen.
JPEG = "image/jpeg"
PNG = "image/png"
X_IMAGE = "application/x-image"
IMAGES = (JPEG, PNG, X_IMAGE)
REQUEST_TYPES = SUPPORTED + IMAGES
_IMAGE_ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "image/x-png": PNG}

# Other spellings seen in the wild (SDK serializers, RFC drafts, curl defaults).
_ALIASES = {
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/json-lines": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "application/csv": CSV,
    "application/npy": NPY,
    "application/npz": NPZ,
    "application/x-msgpack": MSGPACK,
    "application/vnd.msgpack": MSGPACK,
    "application/protobuf": PROTOBUF,
    "application/x-google-protobuf": PROTOBUF,
    "application/vnd.google.protobuf": PROTOBUF,
    # curl -d sends form encoding; TF Serving's docs use plain curl, so it means JSON as it does there.
    "application/x-www-form-urlencoded": JSON,
    "text/plain": JSON,
}


def _bare(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def canonical(media_type: str) -> str | None:
    """The supported type ``media_type`` names (parameters ignored), or None."""
    bare = _bare(media_type)
    if bare in SUPPORTED:
        return bare
    return _ALIASES.get(bare)


def image_type(media_type: str) -> str | None:
    """The image request type ``media_type`` names (parameters ignored), or None."""
    bare = _bare(media_type)
    return bare if bare in IMAGES else _IMAGE_ALIASES.get(bare)


def is_image(media_type: str) -> bool:
    """Whether ``media_type`` (a type ``request_type`` returned) is one encoded image."""
    return media_type in IMAGES


def request_type(header: str | None, default: str = JSON) -> str:
    """The body format a ``Content-Type`` header names; a missing header means ``default``."""
    if header is None or not header.strip():
        return default
    found = canonical(header) or image_type(header)
    if found is None:
        raise UnsupportedMediaType(
            f"Content-Type {_bare(header)!r} is not supported; expected one of {', '.join(REQUEST_TYPES)}"
        )
    return found


def _ranges(header: str) -> list[tuple[float, int, str]]:
    """``Accept`` entries as (quality, position, media range), best first."""
    ranges = []
    for position, part in enumerate(header.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, media.lower()))
    return sorted(ranges)


def response_type(header: str | None, default: str = JSON) -> str:
    """The response format for an ``Accept`` header: the client's best supported choice.

    A missing header, ``*/*`` or ``application/*`` picks ``default``.
    """
    if header is None or not header.strip():
        return default
    for _, _, media in _ranges(header):
        if media in ("*/*", "application/*", "*"):
            return default
        if media == "text/*":
            return CSV
        found = canonical(media)
        if found is not None and media not in ("text/plain", "application/x-www-form-urlencoded"):
            return found
    raise NotAcceptable(f"Accept {header.strip()!r} names no supported response type; expected one of {', '.join(SUPPORTED)}")
