"""Structured logs: one JSON object per line, to stderr or ``--log_path``.

Fields passed with ``extra=`` become keys; a line written while a request is served
carries its ``request_id`` (``request_context``). Payloads and credentials are
never logged by the code that calls this; the formatter also drops any extra
key that looks like a secret, as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from . import request_context

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SECRET_HINTS = (
    "secret", "password", "passwd", "token", "credential", "authorization", "access_key", "api_key", "private_key",
    "session_key", "connection_string", "signature",
)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request = request_context.current()
        if request is not None:
            entry["request_id"] = request.request_id
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if any(hint in key.lower() for hint in _SECRET_HINTS):
                continue
            entry[key] = value
        if record.exc_info and record.levelno >= logging.ERROR:
            entry["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str)


def configure(level: str = "INFO", path: str | None = None) -> None:
    """Route every logger (ours and the libraries') through the JSON formatter."""
    handler: logging.Handler = logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets"):
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
    logging.getLogger("sanic.access").setLevel(logging.WARNING)
    # Storage clients log requests (and, at DEBUG, signing details) in their own words: keep them to warnings.
    for name in ("botocore", "boto3", "s3transfer", "urllib3", "azure", "google", "grpc"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
