"""Content-Type and Accept resolution: aliases, parameters, q-values, and the refusals' wording."""

from __future__ import annotations

import pytest

from ovserve.handler.codecs import media_types as mt
from ovserve.handler.errors import NotAcceptable, UnsupportedMediaType


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, mt.JSON),
        ("", mt.JSON),
        ("application/json; charset=utf-8", mt.JSON),
        ("Application/JSON", mt.JSON),
        ("application/x-www-form-urlencoded", mt.JSON),
        ("application/jsonlines", mt.JSONLINES),
        ("application/x-ndjson", mt.JSONLINES),
        ("text/csv; header=absent", mt.CSV),
        ("application/x-npy", mt.NPY),
        ("application/x-npz", mt.NPZ),
        ("application/x-msgpack", mt.MSGPACK),
        ("application/x-protobuf", mt.PROTOBUF),
    ],
)
def test_request_types_resolve_to_one_canonical_name(header, expected):
    assert mt.request_type(header) == expected


def test_an_unknown_request_type_is_refused_with_the_supported_list():
    with pytest.raises(UnsupportedMediaType) as caught:
        mt.request_type("image/gif")
    assert "'image/gif'" in caught.value.message
    for supported in mt.SUPPORTED:
        assert supported in caught.value.message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, mt.JSON),
        ("*/*", mt.JSON),
        ("text/csv", mt.CSV),
        ("application/x-npy, application/json;q=0.5", mt.NPY),
        ("application/json;q=0.2, application/x-npz", mt.NPZ),
        ("image/png, application/msgpack;q=0.1", mt.MSGPACK),
        ("text/*", mt.CSV),
        ("application/jsonlines;q=0, text/csv", mt.CSV),
    ],
)
def test_accept_picks_the_clients_best_supported_type(header, expected):
    assert mt.response_type(header) == expected


def test_accept_default_is_configurable():
    assert mt.response_type("*/*", default=mt.CSV) == mt.CSV
    assert mt.response_type(None, default=mt.NPY) == mt.NPY


def test_an_accept_header_without_a_supported_type_is_refused():
    with pytest.raises(NotAcceptable) as caught:
        mt.response_type("image/png, text/html;q=0.9")
    assert "image/png" in caught.value.message and mt.NPZ in caught.value.message
