"""Comparing our protobuf descriptors with the official ones, field by field (TF Serving's and KServe v2's)."""

from __future__ import annotations


def assert_messages_match(ours: dict, official: dict, omitted: dict[str, set[str]], at_least: int) -> None:
    """Every message and enum of ours exists officially with identical fields; only ``omitted`` fields are left out.

    ``ours`` and ``official`` are what ``tests.clients.dump_tfs_descriptors.describe`` returns;
    ``at_least`` guards against a walk that silently found nothing.
    """
    assert len(ours["messages"]) >= at_least
    for message, fields in ours["messages"].items():
        assert message in official["messages"], f"{message} is not an official message"
        reference = official["messages"][message]
        for name, field in fields.items():
            assert reference.get(name) == field, f"{message}.{name}: ours {field}, official {reference.get(name)}"
        assert set(reference) - set(fields) == omitted.get(message, set()), f"{message}: fields missing"
    for enum, values in ours["enums"].items():
        assert values == official["enums"][enum], enum
