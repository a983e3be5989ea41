"""The repository extension's rules on an in-process engine: index rows per state, load compiling now, unload remembered.

What needs no server: a model whose storage was never listed shows as LOADING without a
version, a lazily served version counts as READY, a load compiles what lazy loading
would have left for the first request, and an unloaded model stays out of readiness.
"""

from __future__ import annotations

import asyncio

import pytest

from ovserve.handler.engine import Engine
from ovserve.handler.errors import NotFound
from ovserve.handler.protocols import v2_repository
from ovserve.handler.protocols.v2_repository import IndexRow
from ovserve.handler.settings.config import ModelConfig
from tests import models
from tests.engines import engine_for, run


def test_a_model_not_listed_yet_is_one_loading_row_without_a_version(tmp_path):
    models.write_version(tmp_path / "a", 1, models.add_one())
    engine = Engine.from_configs([ModelConfig(name="a", base_path=str(tmp_path / "a"))])  # not started: nothing listed
    assert v2_repository.index(engine) == [IndexRow("a", "", "LOADING", "its versions are still being discovered")]
    assert v2_repository.index(engine, ready_only=True) == []
    assert IndexRow("a", "", "LOADING", "").as_json() == {"name": "a", "state": "LOADING", "reason": ""}


def test_load_compiles_the_lazy_versions_and_unload_is_remembered(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one(), b=models.add_one())

    async def scenario():
        lazy = engine.repository.get("a").default_entry().served.is_loaded
        ready_lazy = v2_repository.index(engine, ready_only=True)
        await v2_repository.load(engine, "a", {})
        compiled = engine.repository.get("a").default_entry().served.is_loaded
        await v2_repository.unload(engine, "b", {"unload_dependents": True})
        await v2_repository.unload(engine, "b", {})  # again: nothing to do, no error
        return lazy, ready_lazy, compiled, v2_repository.index(engine), engine.not_ready_reason(), engine.model_names()

    lazy, ready_lazy, compiled, rows, not_ready, names = run(engine, scenario)
    assert (lazy, compiled) == (False, True)
    assert [row.name for row in ready_lazy] == ["a", "b"]  # AVAILABLE serves (compiling on first use): READY
    assert rows == [IndexRow("a", "1", "READY", ""), IndexRow("b", "1", "UNAVAILABLE", "unloaded")]
    assert not_ready is None and names == ["a"]  # an unloaded model does not hold readiness back


def test_only_configured_models_can_be_loaded(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one())

    async def scenario():
        with pytest.raises(NotFound, match="only configured models .* can be loaded or unloaded: a"):
            await v2_repository.load(engine, "elsewhere", {})

    run(engine, scenario)


def test_a_load_whose_caller_goes_away_still_finishes(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one())

    async def scenario():
        await v2_repository.unload(engine, "a", {})
        loading = asyncio.ensure_future(v2_repository.load(engine, "a", {}))
        await asyncio.sleep(0)  # let the load start, then cancel it as a dropped connection would
        loading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loading
        await v2_repository.load(engine, "a", {})  # waits for the first one's scan, then finds it served
        return engine.unloaded_models(), engine.repository.get("a").default_entry().served.is_loaded

    assert run(engine, scenario) == ({}, True)
