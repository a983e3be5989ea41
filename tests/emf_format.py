"""What CloudWatch requires of an Embedded Metric Format document (the EMF specification's rules and limits)."""

from __future__ import annotations

import json
import time

# CloudWatch's MetricDatum units, the only values a MetricDefinition's Unit may take.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
    "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
    "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}
MAX_EVENT_BYTES = 256 * 1024  # the older, stricter of the two published limits
HIGH_CARDINALITY = {"request_id", "aws_request_id"}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check(document: dict, namespace: str) -> None:
    """Assert ``document`` is an EMF document CloudWatch would extract under ``namespace``."""
    assert len(json.dumps(document, separators=(",", ":")).encode()) <= MAX_EVENT_BYTES
    meta = document["_aws"]
    assert set(meta) == {"Timestamp", "CloudWatchMetrics"}, meta
    now_ms = time.time() * 1000
    assert isinstance(meta["Timestamp"], int) and now_ms - 600_000 < meta["Timestamp"] <= now_ms + 1000, meta  # epoch ms
    assert meta["CloudWatchMetrics"], meta
    for directive in meta["CloudWatchMetrics"]:
        assert directive["Namespace"] == namespace
        assert isinstance(directive["Dimensions"], list) and directive["Dimensions"], directive
        for keys in directive["Dimensions"]:
            assert isinstance(keys, list) and len(keys) <= 30, keys
            assert not HIGH_CARDINALITY & set(keys), keys  # request ids are properties, never dimensions
            for key in keys:
                value = document[key]  # a dimension names a key at the document's top level ...
                assert isinstance(value, str) and value.strip() and value.isascii() and len(value) <= 1024, (key, value)
                assert not value.startswith(":"), (key, value)
        assert 0 < len(directive["Metrics"]) <= 100, directive
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}, metric
            assert metric.get("Unit", "None") in UNITS, metric
            value = document[metric["Name"]]  # ... and so does a metric, holding a number or up to 100 of them
            values = value if isinstance(value, list) else [value]
            assert 0 < len(values) <= 100 and all(_is_number(v) for v in values), (metric, value)
