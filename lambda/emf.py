"""CloudWatch metrics without an agent: one Embedded Metric Format line per invocation, on stdout.

Lambda sends stdout to the function's log group, and CloudWatch Logs turns a
line holding an ``_aws`` block into metrics, so no agent and no
``cloudwatch:PutMetricData`` permission are needed. Off unless
``OVSERVE_EMF_NAMESPACE`` names a namespace. Each line carries ``Latency``
(Milliseconds, handler entry to answer), ``Records`` (Count: rows the model
answered) and ``Errors`` (Count: 1 for a failed HTTP request or direct
invocation, the failed objects of an S3 event), under the dimension sets of
``OVSERVE_EMF_DIMENSIONS`` (default ``model,version``).

Every distinct combination of dimension values is a billed custom metric, so
dimension values come only from bounded sets: a model is named only when it
is served (a caller's unknown name is ``-``), a version only when it answered,
and the request id is a property (a Logs Insights field), never a dimension.
The line is written with its own top-level structure, not through the JSON
log formatter, as one ``write`` of a whole line under a lock, so log lines on
stderr and other invocations' metrics never cut into it. Building or writing
it never fails the invocation: a problem is logged and the answer goes out.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from dataclasses import dataclass

import orjson

from ovserve.handler.settings.values import fail

log = logging.getLogger("ovserve.lambda")

# The keys OVSERVE_EMF_DIMENSIONS may name, and the dimension each becomes; every one has a bounded set of values.
DIMENSIONS = {"model": "Model", "version": "Version", "interface": "Interface", "status_class": "StatusClass",
              "function": "FunctionName"}
DEFAULT_DIMENSIONS = (("model", "version"),)
NONE = "-"  # a dimension with no value for this invocation (no model answered): EMF needs a non-blank string
_METRICS = ({"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Records", "Unit": "Count"},
            {"Name": "Errors", "Unit": "Count"})
_NAMESPACE = re.compile(r"[a-zA-Z0-9._#:/-]{1,255}")
_MAX_VALUE = 1024  # characters of a dimension value (EMF's library limit)
_write_lock = threading.Lock()


@dataclass(frozen=True)
class EmfSettings:
    """Where the metrics go: namespace, dimension sets (as CloudWatch names) and this function's name."""

    namespace: str
    dimensions: tuple[tuple[str, ...], ...]
    function_name: str = NONE


@dataclass(frozen=True)
class Outcome:
    """What one invocation did, as its metrics line reports it."""

    interface: str  # REST, Invoke or S3
    status: int  # the HTTP status, or the one an HTTP request failing the same way would get
    errors: int
    records: int
    model: str | None
    version: int | None
    latency_ms: float
    request_id: str
    aws_request_id: str


def settings_from(namespace: str, dimensions: str, function_name: str) -> EmfSettings | None:
    """The settings ``OVSERVE_EMF_NAMESPACE``/``OVSERVE_EMF_DIMENSIONS`` give (None: off); ConfigError names the variable."""
    namespace = namespace.strip()
    if not namespace:
        return None
    if not _NAMESPACE.fullmatch(namespace) or namespace.startswith("AWS/"):
        raise fail("OVSERVE_EMF_NAMESPACE", "1 to 255 of A-Z a-z 0-9 . _ # : / - and not starting with AWS/ "
                   "(CloudWatch keeps that for its own)", namespace)
    return EmfSettings(namespace, _dimension_sets(dimensions), _value(function_name or NONE))


def _dimension_sets(text: str) -> tuple[tuple[str, ...], ...]:
    """``model,version;interface`` as CloudWatch names, one tuple per set; blank is the default set."""
    if not text.strip():
        return tuple(tuple(DIMENSIONS[key] for key in keys) for keys in DEFAULT_DIMENSIONS)
    sets: list[tuple[str, ...]] = []
    for part in text.split(";"):
        keys = [key.strip().lower() for key in part.split(",")]
        if not all(key in DIMENSIONS for key in keys):
            raise fail("OVSERVE_EMF_DIMENSIONS", f"sets of {', '.join(DIMENSIONS)}, keys joined by ',' and sets by ';' "
                       "(e.g. model,version;interface)", text)
        names = tuple(dict.fromkeys(DIMENSIONS[key] for key in keys))
        if names not in sets:
            sets.append(names)
    return tuple(sets)


def _value(text: str) -> str:
    """``text`` as a dimension value EMF accepts (ASCII, non-blank, no leading ':', at most 1,024 characters), else ``-``."""
    if not text.strip() or not text.isascii() or text.startswith(":"):
        return NONE
    return text[:_MAX_VALUE]


def line(settings: EmfSettings, outcome: Outcome, now_ms: int | None = None) -> bytes:
    """The invocation's EMF document, one line of JSON ending in a newline."""
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [{"Namespace": settings.namespace, "Dimensions": [list(s) for s in settings.dimensions],
                                   "Metrics": list(_METRICS)}],
        },
        "Model": _value(outcome.model) if outcome.model else NONE,
        "Version": NONE if outcome.version is None else str(outcome.version),
        "Interface": outcome.interface,
        "StatusClass": f"{outcome.status // 100}xx",
        "FunctionName": settings.function_name,
        "Latency": round(outcome.latency_ms, 3),
        "Records": outcome.records,
        "Errors": outcome.errors,
        "status": outcome.status,
        "request_id": outcome.request_id,
        "aws_request_id": outcome.aws_request_id,
    }
    return orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)


def emit(settings: EmfSettings, outcome: Outcome) -> None:
    """Write the invocation's line to stdout; never raises (a failure is a warning in the log)."""
    try:
        text = line(settings, outcome).decode()
        with _write_lock:
            sys.stdout.write(text)
            sys.stdout.flush()
    except Exception as exc:  # metrics are worth less than the answer they describe
        log.warning("metrics line not written", extra={"reason": f"{type(exc).__name__}: {str(exc)[:200]}"})

