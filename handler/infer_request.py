"""One inference request as every transport hands it to the engine.

A request is a value, not a growing list of keyword flags on
``Engine.predict``: protocols that carry request ids and per-request
parameters (KServe v2, future ones) add them here without touching every
caller, and the engine reads only what it acts on. The arrays arrive as a
builder, because typing them needs the model's signature, which is known only
once the version is chosen; the builder returns arrays already converted by
their codec (JSON and CSV numbers rounded to the tensor's precision, binary
arrays exactly as sent), so nothing downstream needs to know the body format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .signature import Signature

# Turns a decoded request into typed arrays once the model's signature is known.
ArrayBuilder = Callable[[Signature], dict[str, np.ndarray]]


@dataclass(frozen=True)
class InferRequest:
    """What to run, on which model version, and what to send back.

    ``version`` None is the model's default version. ``records``: the inputs'
    first dimension counts records of any number; they run in batches the
    model takes and come back one output row per record. ``work_bytes``: about
    how much ``arrays`` decodes or expands (the body size, a tensor's declared
    size); large requests are built off the event loop. ``parameters`` and
    ``request_id`` travel with the request for protocols that carry them
    (echoed in answers, named in logs); the engine does not interpret them.
    """

    model: str
    version: int | None
    arrays: ArrayBuilder
    output_filter: list[str] | None = None
    records: bool = False
    work_bytes: int = 0
    parameters: Mapping[str, object] = field(default_factory=dict)
    request_id: str | None = None
