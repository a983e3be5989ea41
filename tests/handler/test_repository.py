"""Repository: version discovery, policies, states, swaps, broken folders and draining."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time

import numpy as np
import pytest

from ovserve.handler.errors import NotFound, NotReady, StorageError
from ovserve.handler.repository import PREPARED, Repository
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.values import parse_version_policy
from tests import models
from tests.handler.gated_storage import gate_storage


def repo_for(base, policy=None, preload=False) -> Repository:
    config = ModelConfig(
        name="m",
        base_path=str(base),
        plugin_config=dict(models.F32),
        version_policy=parse_version_policy("policy", policy),
        preload=preload,
    )
    return Repository([config])


def states(repository: Repository) -> dict[int, str]:
    return {s.version: s.state for s in repository.get("m").statuses()}


async def answer(repository: Repository, version=None) -> tuple[int, float]:
    """(version used, first output value) for x = 0."""
    async with repository.get("m").use(version) as served:
        out = await served.infer({"x": np.zeros((1, 10), np.float32)})
        return served.version, float(out["y"][0, 0])


def versions_adding(base, *numbers):
    for number in numbers:
        models.write_version(base, number, models.add_one(value=float(number)))


def test_default_is_highest_and_only_latest_is_served(tmp_path):
    versions_adding(tmp_path, 1, 2, 3)
    (tmp_path / "notes").mkdir()
    (tmp_path / "0").mkdir()

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        return states(repository), await answer(repository)

    found, used = asyncio.run(scenario())
    assert found == {3: "AVAILABLE"}
    assert used == (3, 3.0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"latest": {"num_versions": 2}}, {2, 3}),
        ({"all": {}}, {1, 2, 3}),
        ({"specific": {"versions": [1, 3, 7]}}, {1, 3}),
    ],
)
def test_version_policies(tmp_path, policy, expected):
    versions_adding(tmp_path, 1, 2, 3)

    async def scenario():
        repository = repo_for(tmp_path, policy)
        await repository.refresh_all()
        served = {v for v, s in states(repository).items() if s == "AVAILABLE"}
        pinned = await answer(repository, 1) if 1 in served else None
        return served, pinned

    served, pinned = asyncio.run(scenario())
    assert served == expected
    if 1 in expected:
        assert pinned == (1, 1.0)


def test_missing_base_path_serves_nothing_but_starts(tmp_path):
    async def scenario():
        repository = repo_for(tmp_path / "absent")
        await repository.refresh_all()
        assert repository.get("m").statuses() == []
        with pytest.raises(NotFound, match="no version available"):
            await answer(repository)

    asyncio.run(scenario())


def test_folder_without_model_is_skipped(tmp_path):
    versions_adding(tmp_path, 1)
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "README.txt").write_text("not a model")

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        return states(repository)

    assert asyncio.run(scenario()) == {1: "AVAILABLE"}


def test_broken_newest_version_falls_back_to_the_previous_one_lazily(tmp_path):
    versions_adding(tmp_path, 1)
    broken = tmp_path / "2"
    broken.mkdir()
    (broken / "model.xml").write_text("<net>not really</net>")

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        used = await answer(repository)
        with pytest.raises(NotFound, match="failed to load"):
            await answer(repository, 2)
        return used, repository.get("m").statuses()

    used, statuses = asyncio.run(scenario())
    assert used == (1, 1.0)
    by_version = {s.version: s for s in statuses}
    assert by_version[2].state == "END" and "failed to load" in by_version[2].error_message
    assert by_version[2].error_code == "UNKNOWN"
    assert by_version[1].state == "AVAILABLE"


def test_broken_newest_version_never_retires_the_working_one_with_preload(tmp_path):
    versions_adding(tmp_path, 1)
    broken = tmp_path / "2"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"\x00garbage")

    async def scenario():
        repository = repo_for(tmp_path, preload=True)
        await repository.refresh_all()
        return states(repository), await answer(repository)

    found, used = asyncio.run(scenario())
    assert found == {1: "AVAILABLE", 2: "END"}
    assert used == (1, 1.0)


def test_fixed_broken_version_is_retried_when_its_files_change(tmp_path):
    versions_adding(tmp_path, 1)
    broken = tmp_path / "2"
    broken.mkdir()
    (broken / "model.xml").write_text("<broken/>")

    async def scenario():
        repository = repo_for(tmp_path, preload=True)
        await repository.refresh_all()
        first = states(repository)
        shutil.rmtree(broken)
        versions_adding(tmp_path, 2)
        await repository.refresh_all()
        return first, states(repository), await answer(repository)

    first, second, used = asyncio.run(scenario())
    assert first == {1: "AVAILABLE", 2: "END"}
    assert second == {1: "END", 2: "AVAILABLE"}
    assert used == (2, 2.0)


def test_new_version_is_loaded_before_it_takes_traffic(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        await answer(repository)  # version 1 now loaded: later versions load eagerly
        versions_adding(tmp_path, 2)
        await repository.refresh_all()
        entry = repository.get("m").versions[2]
        return entry.served.is_loaded, states(repository), await answer(repository)

    loaded, found, used = asyncio.run(scenario())
    assert loaded is True
    assert found == {1: "END", 2: "AVAILABLE"}
    assert used == (2, 2.0)


def test_removed_version_finishes_in_flight_requests_first(tmp_path):
    versions_adding(tmp_path, 1, 2)

    async def scenario():
        repository = repo_for(tmp_path, {"all": {}})
        await repository.refresh_all()
        model = repository.get("m")
        async with model.use(1) as served:
            shutil.rmtree(tmp_path / "1")
            await repository.refresh_all()
            during = states(repository)
            out = await served.infer({"x": np.zeros((1, 10), np.float32)})  # still works while draining
            with pytest.raises(NotFound, match="not served"):
                await answer(repository, 1)
        return during, float(out["y"][0, 0]), states(repository)

    during, value, after = asyncio.run(scenario())
    assert during == {1: "UNLOADING", 2: "AVAILABLE"}
    assert value == 1.0
    assert after == {1: "END", 2: "AVAILABLE"}


def test_unknown_model_is_not_found(tmp_path):
    repository = repo_for(tmp_path)
    with pytest.raises(NotFound, match="'nope' not found"):
        repository.get("nope")


def test_polling_picks_up_new_versions(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        repository.start_polling(0.05)
        versions_adding(tmp_path, 2)
        try:
            for _ in range(200):
                if states(repository).get(2) == "AVAILABLE":
                    return await answer(repository)
                await asyncio.sleep(0.05)
            return None
        finally:
            await repository.stop()

    assert asyncio.run(scenario()) == (2, 2.0)


# --- one scan, published at once ---------------------------------------------------------------------

DEADLINE_SECONDS = 30


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_an_eager_scan_publishes_its_versions_together_once_every_load_settled(tmp_path):
    versions_adding(tmp_path, 1, 2)
    broken = tmp_path / "3"
    broken.mkdir()
    (broken / "model.xml").write_text("<net>not really</net>")

    async def scenario():
        repository = repo_for(tmp_path, {"all": {}}, preload=True)
        model = repository.get("m")
        gate = gate_storage(model).hold_fetch(2)  # version 2's load waits for the test
        scan = asyncio.ensure_future(repository.refresh_all())
        try:
            await until(lambda: gate.entered.is_set() and model.versions[1].served.is_loaded
                        and states(repository).get(3) == "END", "v1 compiled, v3 failed")
            during = states(repository)
            with pytest.raises(NotReady, match="version 2 is loading") as pinned:
                await answer(repository, 1)  # compiled, but its scan is not done: not routable yet
            with pytest.raises(NotReady):
                await answer(repository)
        finally:
            gate.open()
            await scan
        return during, pinned.value.kind, states(repository), await answer(repository, 1), await answer(repository)

    during, kind, after, pinned, default = asyncio.run(scenario())
    assert during == {1: "LOADING", 2: "LOADING", 3: "END"}
    assert kind == "not_ready"
    assert after == {1: "AVAILABLE", 2: "AVAILABLE", 3: "END"}
    assert pinned == (1, 1.0) and default == (2, 2.0)


def test_a_lazy_scan_of_fetched_versions_publishes_them_together(tmp_path):
    versions_adding(tmp_path, 1, 2)

    async def scenario():
        repository = repo_for(tmp_path, {"all": {}})
        model = repository.get("m")
        gated = gate_storage(model, remote=True)  # files are fetched before a version is AVAILABLE
        gate = gated.hold_fetch(2)
        scan = asyncio.ensure_future(repository.refresh_all())
        try:
            def version_one_settled() -> bool:  # fetched, and the scan has taken note (published, were it alone)
                entry = model.versions.get(1)
                return entry is not None and (entry.state == "AVAILABLE" or getattr(entry, "activity", "") == PREPARED)

            await until(lambda: gate.entered.is_set() and version_one_settled(), "version 2's fetch, version 1 fetched")
            during = states(repository)
            with pytest.raises(NotReady, match="version 2 is being fetched from storage"):
                await answer(repository, 1)
        finally:
            gate.open()
            await scan
        return during, states(repository), await answer(repository, 1), await answer(repository)

    during, after, pinned, default = asyncio.run(scenario())
    assert set(during.values()) <= {"START", "LOADING"} and set(during) == {1, 2}
    assert after == {1: "AVAILABLE", 2: "AVAILABLE"}
    assert pinned == (1, 1.0) and default == (2, 2.0)


def test_a_new_version_still_loading_leaves_the_serving_one_in_charge(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        await answer(repository)  # version 1 loaded: version 2 will be compiled before it is published
        versions_adding(tmp_path, 2)
        gate = gate_storage(repository.get("m")).hold_fetch(2)
        scan = asyncio.ensure_future(repository.refresh_all())
        try:
            await until(gate.entered.is_set, "version 2's load")
            during = states(repository), await answer(repository)
            with pytest.raises(NotReady, match="version 2 is loading"):
                await asyncio.wait_for(answer(repository, 2), 5)  # answered at once, not held until the load ends
        finally:
            gate.open()
            await scan
        return during, states(repository), await answer(repository)

    (states_during, used_during), after, used_after = asyncio.run(scenario())
    assert states_during == {1: "AVAILABLE", 2: "LOADING"}
    assert used_during == (1, 1.0)
    assert after == {1: "END", 2: "AVAILABLE"}
    assert used_after == (2, 2.0)


# --- entries that cannot be read ---------------------------------------------------------------------


def test_a_symlink_loop_version_is_skipped_with_a_warning_and_later_versions_are_found(tmp_path, caplog):
    versions_adding(tmp_path, 1)
    (tmp_path / "5").symlink_to(tmp_path / "5")

    async def scenario():
        repository = repo_for(tmp_path)
        await repository.refresh_all()
        first = states(repository)
        versions_adding(tmp_path, 7)
        await repository.refresh_all()
        return first, states(repository), await answer(repository)

    with caplog.at_level(logging.WARNING, logger="ovserve.repository"):
        first, second, used = asyncio.run(scenario())
    assert first == {1: "AVAILABLE"}
    assert second == {1: "END", 7: "AVAILABLE"}
    assert used == (7, 7.0)
    skips = [r for r in caplog.records if r.getMessage() == "version folder skipped"]
    assert len(skips) == 1 and "5: " in skips[0].reason and "symbolic links" in skips[0].reason  # once, not per poll
    assert not [r for r in caplog.records if r.getMessage() == "model refresh failed"]


def test_when_the_policy_chooses_again_a_version_already_prepared_is_not_loaded_twice(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        repository = repo_for(tmp_path, {"latest": {"num_versions": 2}}, preload=True)
        await repository.refresh_all()
        versions_adding(tmp_path, 2, 3)
        gated = gate_storage(repository.get("m"))
        gated.fail_fetch(3, StorageError("cannot download s3://bucket/m: NoSuchKey"))
        await repository.refresh_all()  # picks 3 and 2, 3 fails, picks 2 and 1 again
        return states(repository), sorted(gated.fetched), await answer(repository)

    found, fetched, used = asyncio.run(scenario())
    assert found == {1: "AVAILABLE", 2: "AVAILABLE"}
    assert fetched == [2, 3]  # version 2 loaded once
    assert used == (2, 2.0)
