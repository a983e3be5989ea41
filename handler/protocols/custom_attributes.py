"""``X-Amzn-SageMaker-Custom-Attributes``: which model and version a request is for.

The header is opaque to SageMaker; AWS's TF Serving container reads
comma-separated ``key=value`` pairs from it, and so does this one:
``tfs-model-name``, ``tfs-model-version`` and ``tfs-method`` (only
``predict`` is served). Other keys belong to the caller and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import versions
from ..errors import InvalidInput

HEADER = "x-amzn-sagemaker-custom-attributes"


@dataclass(frozen=True)
class Target:
    """The model and version a request names; None where it names none."""

    model: str | None = None
    version: int | None = None


def parse(header: str | None) -> Target:
    """Read the TF Serving keys from the header's ``key=value`` pairs."""
    if not header:
        return Target()
    pairs: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip().lower()] = value.strip()
    method = pairs.get("tfs-method")
    if method is not None and method != "predict":
        raise InvalidInput(f"custom attribute tfs-method={method[:40]!r} is not served; expected tfs-method=predict")
    name = pairs.get("tfs-model-name") or None
    version_text = pairs.get("tfs-model-version")
    version = versions.from_text(version_text) if version_text else None
    return Target(name, version)
