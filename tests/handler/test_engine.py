"""Engine over a real Repository: predict, metadata, status, output filters, polling and readiness."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from ovserve.handler.engine import Engine, InferRequest, Prediction
from ovserve.handler.errors import InvalidInput, NotFound, NotReady
from ovserve.handler.repository import Repository
from ovserve.handler.settings.config import ModelConfig
from ovserve.handler.settings.values import VersionPolicy, parse_version_policy
from ovserve.handler.signature import Signature
from ovserve.handler.status import VersionStatus
from tests import models
from tests.handler.gated_storage import gate_storage

DEADLINE_SECONDS = 30


def config(base, name="m", policy=None, **settings) -> ModelConfig:
    return ModelConfig(
        name=name,
        base_path=str(base),
        plugin_config=dict(models.F32),
        version_policy=parse_version_policy("model_version_policy", policy) if policy else VersionPolicy(),
        **settings,
    )


def versions_adding(base, *numbers) -> None:
    """Version n adds n, so an answer tells which version produced it."""
    for number in numbers:
        models.write_version(base, number, models.add_one(value=float(number)))


def x_zeros(signature: Signature) -> dict[str, np.ndarray]:
    return {"x": np.zeros((1, 10), np.float32)}


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_from_configs_builds_a_repository(tmp_path):
    versions_adding(tmp_path / "a", 1)
    versions_adding(tmp_path / "b", 1)

    engine = Engine.from_configs([config(tmp_path / "a", "a"), config(tmp_path / "b", "b")])

    assert isinstance(engine.repository, Repository)
    assert sorted(engine.repository.models) == ["a", "b"]


def test_predict_returns_the_outputs_and_the_served_version(tmp_path):
    versions_adding(tmp_path, 4)
    seen: list[Signature] = []

    def build(signature: Signature) -> dict[str, np.ndarray]:
        seen.append(signature)
        return {"x": np.arange(10, dtype=np.float32).reshape(1, 10)}

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            return await engine.predict(InferRequest("m", None, build))
        finally:
            await engine.stop()

    prediction = asyncio.run(scenario())

    assert isinstance(prediction, Prediction)
    assert prediction.model == "m"
    assert prediction.version == 4
    assert list(prediction.outputs) == ["y"]
    np.testing.assert_array_equal(prediction.outputs["y"], np.arange(10, dtype=np.float32).reshape(1, 10) + 4)
    assert [s.input_names() for s in seen] == [["x"]]  # the builder gets the served version's signature


def test_version_none_uses_the_highest_and_a_number_pins_one(tmp_path):
    versions_adding(tmp_path, 1, 3, 2)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path, policy={"all": {}})])
        await engine.start()
        try:
            default = await engine.predict(InferRequest("m", None, x_zeros))
            pinned = {v: await engine.predict(InferRequest("m", v, x_zeros)) for v in (1, 2, 3)}
            return default, pinned
        finally:
            await engine.stop()

    default, pinned = asyncio.run(scenario())

    assert default.version == 3
    assert float(default.outputs["y"][0, 0]) == 3.0
    for version, prediction in pinned.items():
        assert prediction.version == version
        assert float(prediction.outputs["y"][0, 0]) == float(version)


def test_predict_errors_name_what_is_missing(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            with pytest.raises(NotFound) as unknown_model:
                await engine.predict(InferRequest("nope", None, x_zeros))
            with pytest.raises(NotFound) as unknown_version:
                await engine.predict(InferRequest("m", 9, x_zeros))
            with pytest.raises(InvalidInput):
                await engine.predict(InferRequest("m", None, lambda signature: {"wrong": np.zeros((1, 10), np.float32)}))
            return unknown_model.value.message, unknown_version.value.message
        finally:
            await engine.stop()

    model_message, version_message = asyncio.run(scenario())

    assert "'nope'" in model_message
    assert "'m'" in version_message and "9" in version_message


def test_output_filter(tmp_path):
    models.write_version(tmp_path, 1, models.two_in_two_out())
    a = np.array([[1, 2, 3]], np.float32)
    b = np.array([[4, 5, 6]], np.float32)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            only_product = await engine.predict(InferRequest("m", None, lambda s: {"a": a, "b": b}, output_filter=["product"]))
            both = await engine.predict(InferRequest("m", None, lambda s: {"a": a, "b": b}, output_filter=["product", "sum"]))
            everything = await engine.predict(InferRequest("m", None, lambda s: {"a": a, "b": b}))
            with pytest.raises(InvalidInput, match="nope"):
                await engine.predict(InferRequest("m", None, lambda s: {"a": a, "b": b}, output_filter=["nope"]))
            return only_product, both, everything
        finally:
            await engine.stop()

    only_product, both, everything = asyncio.run(scenario())

    assert list(only_product.outputs) == ["product"]
    np.testing.assert_array_equal(only_product.outputs["product"], a * b)
    assert list(both.outputs) == ["product", "sum"]  # in the order asked for
    np.testing.assert_array_equal(both.outputs["sum"], a + b)
    assert list(everything.outputs) == ["sum", "product"]


def test_arrays_convert_when_no_value_changes_and_never_round(tmp_path):
    """Rounding is the decoders' business (JSON, CSV); an array reaching the engine converts only exactly."""
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            exact = await engine.predict(InferRequest("m", None, lambda s: {"x": np.full((1, 10), 2.0, np.float64)}))
            with pytest.raises(InvalidInput, match="converting would change values"):
                await engine.predict(InferRequest("m", None, lambda s: {"x": np.full((1, 10), 0.1, np.float64)}))
            return exact
        finally:
            await engine.stop()

    prediction = asyncio.run(scenario())

    assert prediction.outputs["y"].dtype == np.float32
    np.testing.assert_array_equal(prediction.outputs["y"], np.full((1, 10), 3.0, np.float32))


def test_status_of_a_model_and_of_one_version(tmp_path):
    versions_adding(tmp_path, 1, 2)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path, policy={"all": {}})])
        await engine.start()
        try:
            return engine.status("m", None), engine.status("m", 2)
        finally:
            await engine.stop()

    everything, one = asyncio.run(scenario())

    assert everything == [VersionStatus(1, "AVAILABLE", "OK", ""), VersionStatus(2, "AVAILABLE", "OK", "")]
    assert one == [VersionStatus(2, "AVAILABLE", "OK", "")]


def test_status_reports_retired_versions(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        versions_adding(tmp_path, 2)
        await engine.repository.refresh_all()
        try:
            return engine.status("m", None), engine.status("m", 1)
        finally:
            await engine.stop()

    everything, old = asyncio.run(scenario())

    assert [(s.version, s.state) for s in everything] == [(1, "END"), (2, "AVAILABLE")]
    assert [(s.version, s.state) for s in old] == [(1, "END")]


def test_status_not_found(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            with pytest.raises(NotFound) as unknown_version:
                engine.status("m", 7)
            with pytest.raises(NotFound) as unknown_model:
                engine.status("other", None)
            return unknown_version.value, unknown_model.value
        finally:
            await engine.stop()

    unknown_version, unknown_model = asyncio.run(scenario())

    assert unknown_version.message == "Model 'm' has no version 7"
    assert unknown_version.kind == "not_found"
    assert "'other'" in unknown_model.message


def test_metadata_returns_the_version_and_signature(tmp_path):
    models.write_version(tmp_path, 1, models.add_one())
    models.write_version(tmp_path, 2, models.two_in_two_out())

    async def scenario():
        engine = Engine.from_configs([config(tmp_path, policy={"all": {}})])
        await engine.start()
        try:
            return await engine.metadata("m", None), await engine.metadata("m", 1)
        finally:
            await engine.stop()

    (latest, latest_signature), (first, first_signature) = asyncio.run(scenario())

    assert latest == 2
    assert latest_signature.input_names() == ["a", "b"]
    assert latest_signature.output_names() == ["sum", "product"]
    assert [spec.dtype.ov_name for spec in latest_signature.inputs] == ["f32", "f32"]
    assert [spec.shape for spec in latest_signature.inputs] == [(-1, 3), (-1, 3)]
    assert first == 1
    assert first_signature.input_names() == ["x"] and first_signature.output_names() == ["y"]
    assert first_signature.inputs[0].shape == (1, 10)
    assert first_signature.inputs[0].dtype.tf_name == "DT_FLOAT"


def test_metadata_applies_mapping_aliases(tmp_path):
    models.write_version(tmp_path, 1, models.add_one(), mapping={"inputs": {"x": "pixels"}, "outputs": {"y": "scores"}})

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            _, signature = await engine.metadata("m", None)
            prediction = await engine.predict(InferRequest("m", None, lambda s: {"pixels": np.zeros((1, 10), np.float32)}))
            return signature, prediction
        finally:
            await engine.stop()

    signature, prediction = asyncio.run(scenario())

    assert signature.input_names() == ["pixels"] and signature.output_names() == ["scores"]
    assert list(prediction.outputs) == ["scores"]


def test_metadata_for_an_unknown_version(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start()
        try:
            with pytest.raises(NotFound, match="version 5"):
                await engine.metadata("m", 5)
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_start_with_polling_finds_new_versions_and_stop_cancels_it(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start(poll_seconds=0.05)
        assert len(asyncio.all_tasks()) == 2  # this scenario and the poller
        versions_adding(tmp_path, 2)
        await until(lambda: [s.version for s in engine.status("m", None) if s.state == "AVAILABLE"] == [2], "version 2")
        prediction = await engine.predict(InferRequest("m", None, x_zeros))
        await engine.stop()
        remaining = asyncio.all_tasks() - {asyncio.current_task()}
        return prediction, remaining, engine.status("m", None)

    prediction, remaining, statuses = asyncio.run(scenario())

    assert prediction.version == 2
    assert remaining == set()  # the poller is gone, not left running or pending
    assert all(s.state == "END" for s in statuses)  # stop() unloads every version


def test_stop_without_polling_and_twice(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start(preload=True)
        loaded = engine.repository.get("m").versions[1].served.is_loaded
        await engine.stop()
        await engine.stop()
        return loaded, engine.status("m", None), asyncio.all_tasks() - {asyncio.current_task()}

    loaded, statuses, remaining = asyncio.run(scenario())

    assert loaded is True  # preload=True loaded the version at start
    assert statuses == [VersionStatus(1, "END", "OK", "")]
    assert remaining == set()


def test_start_without_polling_keeps_the_versions_found_at_start(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start(poll_seconds=0)
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        await engine.stop()
        return tasks

    assert asyncio.run(scenario()) == set()


def test_is_ready_waits_for_a_version(tmp_path):
    base = tmp_path / "not-yet"

    async def scenario():
        engine = Engine.from_configs([config(base)])
        await engine.start(poll_seconds=0.05)
        try:
            before = engine.is_ready()
            versions_adding(base, 1)
            await until(engine.is_ready, "the first version to be found")
            prediction = await engine.predict(InferRequest("m", None, x_zeros))
            return before, prediction
        finally:
            await engine.stop()

    before, prediction = asyncio.run(scenario())

    assert before is False
    assert prediction.version == 1


def test_is_ready_needs_every_model(tmp_path):
    versions_adding(tmp_path / "present", 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path / "present", "present"), config(tmp_path / "missing", "missing")])
        await engine.start()
        try:
            not_ready = engine.is_ready()
            versions_adding(tmp_path / "missing", 1)
            await engine.repository.refresh_all()
            return not_ready, engine.is_ready()
        finally:
            await engine.stop()

    not_ready, ready = asyncio.run(scenario())

    assert not_ready is False
    assert ready is True


# --- readiness and status while versions arrive --------------------------------------------------


def test_while_versions_are_being_discovered_status_and_predict_are_not_ready_never_empty_or_404(tmp_path):
    versions_adding(tmp_path, 1, 2)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path, policy={"all": {}})])
        gate = gate_storage(engine.repository.get("m")).hold_listing()
        starting = asyncio.ensure_future(engine.start())
        try:
            await until(gate.entered.is_set, "the listing")
            with pytest.raises(NotReady) as status:
                engine.status("m", None)
            with pytest.raises(NotReady) as one_status:
                engine.status("m", 1)
            with pytest.raises(NotReady) as pinned:
                await engine.predict(InferRequest("m", 1, x_zeros))
            reason = engine.not_ready_reason()
        finally:
            gate.open()
            await starting
        try:
            return status.value, one_status.value, pinned.value, reason, engine.status("m", None), engine.not_ready_reason()
        finally:
            await engine.stop()

    status, one_status, pinned, reason, after, ready = asyncio.run(scenario())
    assert status.kind == "not_ready" and "'m'" in status.message and "still being discovered" in status.message
    assert "still being discovered" in one_status.message
    assert pinned.kind == "not_ready" and "still being discovered" in pinned.message
    assert reason is not None and "still being discovered" in reason and "loading" in reason
    assert [(s.version, s.state) for s in after] == [(1, "AVAILABLE"), (2, "AVAILABLE")]
    assert ready is None


def test_not_ready_reason_names_the_version_being_compiled(tmp_path):
    versions_adding(tmp_path, 1)

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        gate = gate_storage(engine.repository.get("m")).hold_fetch(1)  # the compile reads the folder through the gate
        starting = asyncio.ensure_future(engine.start(preload=True))
        try:
            await until(gate.entered.is_set, "version 1's load")
            reason, statuses = engine.not_ready_reason(), engine.status("m", None)
        finally:
            gate.open()
            await starting
        try:
            return reason, statuses, engine.not_ready_reason()
        finally:
            await engine.stop()

    reason, statuses, after = asyncio.run(scenario())
    assert reason == "model m has no version to serve yet: version 1 is loading (reading and compiling the model)"
    assert statuses == [VersionStatus(1, "LOADING", "OK", "")]
    assert after is None


def test_not_ready_reason_after_start_names_each_failed_version(tmp_path):
    broken = tmp_path / "1"
    broken.mkdir()
    (broken / "model.xml").write_text("<net>not really</net>")

    async def scenario():
        engine = Engine.from_configs([config(tmp_path)])
        await engine.start(preload=True)
        try:
            return engine.not_ready_reason()
        finally:
            await engine.stop()

    reason = asyncio.run(scenario())
    assert reason is not None and reason.startswith("model m has no version to serve: version 1 failed to load: cannot read")
