"""The one error table: every kind has an HTTP status and a gRPC code, every error a kind, one body and one log rule."""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
import sys

import grpc
import pytest

from ovserve.handler import errors
from ovserve.handler.errors import SAGEMAKER_HTTP_STATUS, ErrorKind, http_status
from ovserve.handler.failures import Failure, error_body, failure_of, log_failure, logs_as_error
from tests.serverproc import REPO

MESSAGES = {"out_of_memory": "out of memory while answering", "internal": "internal server error; see the log"}


def _error_classes() -> list[type[errors.OvserveError]]:
    return [value for _, value in inspect.getmembers(errors, inspect.isclass)
            if issubclass(value, errors.OvserveError) and value.__module__ == errors.__name__]


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_has_an_http_status_and_a_grpc_code(kind: ErrorKind) -> None:
    assert isinstance(kind.http_status, int) and 400 <= kind.http_status <= 599
    assert isinstance(kind.sagemaker_status, int) and 400 <= kind.sagemaker_status <= 599
    assert isinstance(kind.grpc_code, str) and grpc.StatusCode[kind.grpc_code] is not grpc.StatusCode.OK
    assert kind == kind.value and str(kind) == kind.value  # still reads as its name where code compares ``.kind``


def test_every_error_class_points_at_a_kind() -> None:
    classes = _error_classes()
    assert len(classes) >= 14, classes
    for cls in classes:
        assert isinstance(cls.kind, ErrorKind), cls
        assert http_status(cls("m")) == cls.kind.http_status


def test_the_statuses_clients_rely_on() -> None:
    expected = {errors.InvalidInput: (400, "INVALID_ARGUMENT"), errors.NotFound: (404, "NOT_FOUND"),
                errors.MethodNotAllowed: (405, "UNIMPLEMENTED"), errors.NotAcceptable: (406, "INVALID_ARGUMENT"),
                errors.Conflict: (409, "ALREADY_EXISTS"), errors.PayloadTooLarge: (413, "RESOURCE_EXHAUSTED"),
                errors.UnsupportedMediaType: (415, "INVALID_ARGUMENT"), errors.NotReady: (503, "UNAVAILABLE"),
                errors.ModelLoadError: (503, "UNAVAILABLE"), errors.StorageError: (503, "UNAVAILABLE"),
                errors.Overloaded: (503, "RESOURCE_EXHAUSTED"), errors.InsufficientResources: (503, "RESOURCE_EXHAUSTED"),
                errors.ConfigError: (500, "INTERNAL"), errors.InternalError: (500, "INTERNAL")}
    assert {cls: (cls.kind.http_status, cls.kind.grpc_code) for cls in expected} == expected


def test_sagemaker_differs_only_for_out_of_memory() -> None:
    assert dict(SAGEMAKER_HTTP_STATUS) == {ErrorKind.INSUFFICIENT_RESOURCES: 507}
    assert http_status(errors.InsufficientResources("m"), SAGEMAKER_HTTP_STATUS) == 507
    assert http_status(errors.NotReady("m"), SAGEMAKER_HTTP_STATUS) == 503
    assert http_status(errors.InsufficientResources("m")) == 503


def test_the_core_names_grpc_codes_without_importing_grpc() -> None:
    code = ("import sys, ovserve.handler.errors, ovserve.handler.failures\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sanic', 'grpc')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_error_body_is_exactly_one_key() -> None:
    assert json.loads(error_body('no model "x"; expected one of a, b')) == {"error": 'no model "x"; expected one of a, b'}


def test_failure_of_keeps_core_errors_and_names_the_rest() -> None:
    known = errors.NotFound("no such model")
    assert failure_of(known, **MESSAGES) == Failure(known)
    memory = failure_of(MemoryError("Unable to allocate 4 TiB"), **MESSAGES)
    assert memory.error.kind is ErrorKind.INSUFFICIENT_RESOURCES and not memory.unexpected
    bug = failure_of(KeyError("oops"), **MESSAGES)
    assert bug.error.kind is ErrorKind.INTERNAL and bug.error.message == MESSAGES["internal"] and bug.unexpected


def test_only_5xx_and_bugs_are_logged_as_errors() -> None:
    assert not logs_as_error(Failure(errors.InvalidInput("m")), 400)
    assert logs_as_error(Failure(errors.NotReady("m")), 503)
    assert logs_as_error(Failure(errors.InsufficientResources("m")), 507)
    assert logs_as_error(Failure(errors.NotReady("m")))  # gRPC: no HTTP status, the kind's decides
    assert not logs_as_error(Failure(errors.NotFound("m")))
    assert logs_as_error(failure_of(ValueError("bug"), **MESSAGES), 500)


def test_log_failure_writes_one_record_with_the_same_fields(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("ovserve.test_errors")
    with caplog.at_level(logging.INFO, logger=log.name):
        log_failure(log, Failure(errors.InvalidInput("bad shape")), 400, path="/v1/models/m:predict")
        assert caplog.records == []
        log_failure(log, Failure(errors.InsufficientResources("out of memory")), 503, path="/v1/models/m:predict")
        log_failure(log, failure_of(MemoryError("Unable to allocate 4 TiB"), **MESSAGES), 507, path="/invocations")
        log_failure(log, failure_of(RuntimeError("bug"), **MESSAGES), 500, path="/v1/models/m")
    failed, memory, bug = caplog.records
    assert (failed.levelno, failed.getMessage(), failed.path, failed.kind, failed.status, failed.reason) == (
        logging.ERROR, "request failed", "/v1/models/m:predict", "insufficient_resources", 503, "out of memory")
    assert memory.status == 507 and memory.cause == "Unable to allocate 4 TiB" and memory.exc_info is None
    assert bug.getMessage() == "unexpected error" and bug.exc_info[0] is RuntimeError and bug.kind == "internal"


def test_shed_load_and_loading_models_are_warnings_not_errors(caplog: pytest.LogCaptureFixture) -> None:
    """A 503 by design (queue full, model still arriving) is visible without reading as a fault on every request."""
    log = logging.getLogger("ovserve.test_errors")
    with caplog.at_level(logging.INFO, logger=log.name):
        log_failure(log, Failure(errors.Overloaded("queue full")), 503, path="/v1/models/m:predict")
        log_failure(log, Failure(errors.NotReady("version 1 is being fetched")), None, method="Predict")
    assert [(r.levelno, r.getMessage(), r.kind) for r in caplog.records] == [
        (logging.WARNING, "request failed", "overloaded"), (logging.WARNING, "request failed", "not_ready")]
