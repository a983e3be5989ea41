"""The engine as the only door to the set of models: list, describe, add, remove, readiness reasons, preloading."""

from __future__ import annotations

import numpy as np
import pytest

from ovserve.handler.engine import Engine, InferRequest
from ovserve.handler.errors import Conflict, NotFound
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.status import VersionStatus
from tests import models
from tests.engines import engine_for, run


def x_zeros(signature) -> dict[str, np.ndarray]:
    return {"x": np.zeros((1, 10), np.float32)}


def config(base, name: str) -> ModelConfig:
    return ModelConfig(name=name, base_path=str(base), plugin_config=dict(models.F32))


def test_models_are_listed_in_configuration_order_with_their_configs_and_statuses(tmp_path):
    engine = engine_for(tmp_path, b=models.add_one(), a=models.add_one())

    async def scenario():
        return engine.model_names(), engine.has_model("a"), engine.has_model("c"), engine.statuses_by_model()

    names, has_a, has_c, statuses = run(engine, scenario)

    assert names == ["b", "a"]  # the first is the endpoint's default, as configured
    assert has_a and not has_c
    assert engine.model_config("a").base_path == str(tmp_path / "a")
    assert statuses == {name: [VersionStatus(1, "AVAILABLE", "OK", "")] for name in ("b", "a")}
    with pytest.raises(NotFound):
        engine.model_config("c")


def test_unavailable_reasons_name_only_the_models_that_cannot_serve(tmp_path):
    models.write_version(tmp_path / "good", 1, models.add_one())
    (tmp_path / "empty").mkdir()
    engine = Engine.from_configs([config(tmp_path / "good", "good"), config(tmp_path / "empty", "empty")])

    async def scenario():
        return engine.unavailable_reasons()

    assert run(engine, scenario) == {"empty": "no model files found"}


def test_load_default_versions_compiles_every_model_before_any_request(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one(), b=models.add_one())

    async def scenario():
        before = [engine.repository.get(n).default_entry().served.is_loaded for n in ("a", "b")]
        await engine.load_default_versions()
        return before, [engine.repository.get(n).default_entry().served.is_loaded for n in ("a", "b")]

    assert run(engine, scenario) == ([False, False], [True, True])


def test_a_model_added_serves_and_a_model_removed_is_gone(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one())
    models.write_version(tmp_path / "b", 1, models.add_one(value=2.0))

    async def scenario():
        reason = await engine.add_model(config(tmp_path / "b", "b"))
        answer = await engine.predict(InferRequest("b", None, x_zeros))
        with pytest.raises(Conflict):
            await engine.add_model(config(tmp_path / "b", "b"))
        finished = await engine.remove_model("b", timeout=5)
        return reason, answer, finished, engine.model_names()

    reason, answer, finished, names = run(engine, scenario)

    assert reason is None and finished
    assert float(answer.outputs["y"][0, 0]) == 2.0
    assert names == ["a"]


def test_a_model_that_cannot_serve_is_not_added_and_its_reason_comes_back(tmp_path):
    engine = engine_for(tmp_path, a=models.add_one())
    (tmp_path / "empty").mkdir()

    async def scenario():
        reason = await engine.add_model(config(tmp_path / "empty", "empty"))
        return reason, engine.model_names()

    assert run(engine, scenario) == ("no model files found", ["a"])
