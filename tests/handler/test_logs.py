"""JsonFormatter and configure: one JSON object per line, extra fields, no secrets, file output, levels."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovserve.handler.logs import JsonFormatter, configure

SECRET = "hunter2-SECRET-VALUE"
SANIC = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")


@pytest.fixture
def capture():
    """A logger writing through JsonFormatter into a buffer; returns (logger, parsed lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ovserve.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines() -> list[str]:
        return stream.getvalue().splitlines()

    yield logger, lines
    logger.removeHandler(handler)
    logger.propagate = True


@contextlib.contextmanager
def configured(level: str, path: Path | None = None) -> Iterator[None]:
    """configure() for the body of a ``with``; the root and sanic loggers are put back afterwards."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved_libraries = {}
    for name in SANIC:
        library = logging.getLogger(name)
        saved_libraries[name] = (list(library.handlers), library.level, library.propagate)
    configure(level, path=str(path) if path else None)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if handler not in saved_root[0]:
                handler.close()
        for handler in saved_root[0]:
            root.addHandler(handler)
        root.setLevel(saved_root[1])
        for name, (handlers, library_level, propagate) in saved_libraries.items():
            library = logging.getLogger(name)
            library.handlers = handlers
            library.setLevel(library_level)
            library.propagate = propagate


def flush_root() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_one_json_object_per_record(capture):
    logger, lines = capture

    logger.info("version %s available", 3)
    logger.warning("second")

    assert len(lines()) == 2
    first, second = (json.loads(line) for line in lines())
    assert first["msg"] == "version 3 available"
    assert first["level"] == "INFO"
    assert first["logger"] == "ovserve.test.logs"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["msg"] == "second" and second["level"] == "WARNING"


def test_only_the_documented_keys_without_extra(capture):
    logger, lines = capture

    logger.info("plain")

    assert set(json.loads(lines()[0])) == {"ts", "level", "logger", "msg"}


def test_timestamp_is_the_records_utc_time(capture):
    logger, _ = capture
    record = logger.makeRecord("ovserve.test.logs", logging.INFO, __file__, 1, "at a known time", None, None)
    record.created = 0.25
    record.msecs = 250.0

    entry = json.loads(JsonFormatter().format(record))

    assert entry["ts"] == "1970-01-01T00:00:00.250Z"


def test_a_multi_line_message_stays_on_one_line(capture):
    logger, lines = capture

    logger.error("first line\nsecond line\r\nthird")

    assert len(lines()) == 1
    assert json.loads(lines()[0])["msg"] == "first line\nsecond line\r\nthird"


def test_extra_fields_become_keys(capture):
    logger, lines = capture

    logger.info(
        "version available",
        extra={"model": "resnet", "version": 2, "seconds": 1.5, "ready": True, "path": Path("/models/resnet")},
    )

    entry = json.loads(lines()[0])
    assert entry["model"] == "resnet"
    assert entry["version"] == 2
    assert entry["seconds"] == 1.5
    assert entry["ready"] is True
    assert entry["path"] == "/models/resnet"  # values JSON cannot hold are written as text
    assert entry["msg"] == "version available"


@pytest.mark.parametrize(
    "key",
    [
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "aws_access_key_id",
        "password",
        "db_password",
        "token",
        "aws_session_token",
        "Authorization",
        "authorization_header",
        "credentials",
        "client_secret",
        "api_key",
        "private_key",
    ],
)
def test_extra_keys_that_look_like_secrets_never_appear(capture, key):
    logger, lines = capture

    logger.warning("request rejected", extra={key: SECRET, "model": "m"})

    line = lines()[0]
    assert SECRET not in line
    entry = json.loads(line)
    assert key not in entry
    assert entry["model"] == "m"  # the harmless fields around it are kept


def test_several_secrets_in_one_record(capture):
    logger, lines = capture

    logger.info(
        "storage configured",
        extra={"aws_secret_access_key": SECRET, "password": SECRET, "token": SECRET, "Authorization": f"Bearer {SECRET}", "bucket": "b"},
    )

    line = lines()[0]
    assert SECRET not in line
    assert json.loads(line)["bucket"] == "b"


def test_private_record_attributes_are_not_written(capture):
    logger, lines = capture

    logger.info("x", extra={"_internal": "hidden", "visible": "shown"})

    entry = json.loads(lines()[0])
    assert "_internal" not in entry
    assert entry["visible"] == "shown"


def test_standard_record_attributes_are_not_written(capture):
    logger, lines = capture

    logger.info("x")

    entry = json.loads(lines()[0])
    for attribute in ("args", "levelno", "pathname", "lineno", "funcName", "thread", "process", "exc_info", "created", "msecs"):
        assert attribute not in entry


def test_errors_carry_the_exception_summary(capture):
    logger, lines = capture

    try:
        raise ValueError("bad thing\nwith details")
    except ValueError:
        logger.exception("refresh failed")

    assert len(lines()) == 1
    entry = json.loads(lines()[0])
    assert entry["level"] == "ERROR"
    assert entry["msg"] == "refresh failed"
    assert entry["exception"] == "with details"  # the last line of the traceback only
    assert "Traceback" not in lines()[0]


def test_exception_info_below_error_is_not_written(capture):
    logger, lines = capture

    try:
        raise ValueError("ignored")
    except ValueError:
        logger.warning("retrying", exc_info=True)

    entry = json.loads(lines()[0])
    assert "exception" not in entry
    assert "ignored" not in lines()[0]


def read_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_configure_writes_json_lines_to_the_file(tmp_path):
    path = tmp_path / "server.log"

    with configured("INFO", path):
        logging.getLogger("ovserve.repository").info("version available", extra={"model": "m", "version": 1, "token": SECRET})
        logging.getLogger("some.library").warning("library says hi")
        flush_root()

    entries = read_entries(path)
    assert [(e["logger"], e["msg"]) for e in entries] == [
        ("ovserve.repository", "version available"),
        ("some.library", "library says hi"),
    ]
    assert entries[0]["model"] == "m" and entries[0]["version"] == 1
    assert SECRET not in path.read_text(encoding="utf-8")


def test_configure_replaces_earlier_handlers(tmp_path):
    first, second = tmp_path / "first.log", tmp_path / "second.log"

    with configured("INFO", first):
        configure("INFO", path=str(second))
        logging.getLogger("ovserve.test").info("only in the second")
        flush_root()
        handlers = list(logging.getLogger().handlers)

    assert first.read_text(encoding="utf-8") == ""
    assert [e["msg"] for e in read_entries(second)] == ["only in the second"]
    assert len(handlers) == 1


def test_configure_filters_by_level(tmp_path):
    path = tmp_path / "server.log"

    with configured("WARNING", path):
        log = logging.getLogger("ovserve.test")
        log.debug("debug dropped")
        log.info("info dropped")
        log.warning("warning kept")
        log.error("error kept")
        flush_root()

    assert [(e["level"], e["msg"]) for e in read_entries(path)] == [("WARNING", "warning kept"), ("ERROR", "error kept")]


def test_configure_debug_lets_everything_through(tmp_path):
    path = tmp_path / "server.log"

    with configured("DEBUG", path):
        logging.getLogger("ovserve.test").debug("debug kept")
        flush_root()

    assert [(e["level"], e["msg"]) for e in read_entries(path)] == [("DEBUG", "debug kept")]


def test_configure_routes_sanic_loggers_through_the_file(tmp_path):
    own = logging.StreamHandler(io.StringIO())
    sanic_error = logging.getLogger("sanic.error")
    sanic_error.addHandler(own)
    sanic_error.propagate = False
    path = tmp_path / "server.log"
    try:
        with configured("INFO", path):
            sanic_error.error("handler crashed")
            logging.getLogger("sanic.access").info("GET /v1/models 200")  # access lines are kept from WARNING up
            logging.getLogger("sanic.access").warning("slow access")
            flush_root()
    finally:
        sanic_error.removeHandler(own)
        sanic_error.propagate = True

    entries = read_entries(path)
    assert [(e["logger"], e["msg"]) for e in entries] == [("sanic.error", "handler crashed"), ("sanic.access", "slow access")]
    assert own.stream.getvalue() == ""


def test_configure_without_a_path_writes_to_stderr(capsys):
    with configured("INFO"):
        logging.getLogger("ovserve.test").info("to stderr", extra={"model": "m"})
        flush_root()

    captured = capsys.readouterr()
    entry = json.loads(captured.err.strip().splitlines()[-1])
    assert entry["msg"] == "to stderr" and entry["model"] == "m"
    assert captured.out == ""
