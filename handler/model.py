"""One served model version: read, reshaped and compiled lazily, then inferred.

Nothing touches the disk or OpenVINO until ``ensure_loaded`` (first request,
metadata, or preload); concurrent first callers share one load. The loaded
state (compiled model, signature, pool) lives in one ``_Loaded`` object that is
swapped whole, so a recompile for a new request shape (only for models that
refuse dynamic dimensions) never exposes half an update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .batch_shapes import batching_problem, validation_signature
from .batcher import Batcher
from .daemon_threads import run_in_daemon_thread
from .errors import InvalidInput, ModelLoadError, StorageError
from .infer_pool import InferenceOutOfMemory, InferPool
from .mapping import Mapping, read_mapping
from .reshape import ReshapePlan, apply_layout_and_types, apply_shape, reshape_for_request, short_reason
from .runtime import get_core
from .settings.config import ModelConfig
from .signature import Signature, TensorSpec, port_dims
from .storage.model_files import find_model_file
from .tensors import from_ov_name
from .validation import first_shape_problem, prepare, shape_mismatch

log = logging.getLogger("ovserve.model")


class BatchingRefused(ModelLoadError):
    """The model cannot be batched as configured: a load error of its own, never retried with static shapes."""


@dataclass
class _Loaded:
    model: Any  # openvino.Model after reshape and pre/post-processing (kept for on-demand reshapes)
    compiled: Any
    signature: Signature
    pool: InferPool
    mapping: Mapping
    original_names: dict[str, str]  # client input name -> model input name
    runner: InferPool | Batcher  # what ``infer`` awaits: the pool, or the batcher in front of it
    checked: Signature  # what requests are checked against: ``signature``, with 1..N rows for a fixed batch N when batching

    def close(self) -> None:
        """Close what infers: a batcher runs what is queued, then closes the pool."""
        self.runner.close()


def _layout(port: Any) -> str | None:
    """The port's layout as letters ("NHWC"), or None when the model declares none (image_inputs reads it)."""
    import openvino as ov

    try:
        layout = ov.layout_helpers.get_layout(port)
    except Exception:  # ports of some plugins do not carry run-time info
        return None
    if layout.empty:
        return None
    return layout.to_string().strip("[]").replace(",", "")


def _from_cache(compiled: Any) -> bool:
    """Whether OpenVINO imported the compiled blob from the cache dir instead of compiling."""
    try:
        return bool(compiled.get_property("LOADED_FROM_CACHE"))
    except Exception:  # devices without the property
        return False


def _specs(ports: list, aliases: dict[str, str], side: str) -> tuple[TensorSpec, ...]:
    specs = []
    for index, port in enumerate(ports):
        names = port.get_names()
        original = port.get_any_name() if names else f"{side}_{index}"
        alias = next((aliases[n] for n in sorted(names) if n in aliases), original)
        try:
            dtype = from_ov_name(port.get_element_type().get_type_name())
        except ValueError as exc:
            raise ModelLoadError(f"{side} {original!r}: {exc}") from None
        specs.append(TensorSpec(alias, index, dtype, port_dims(port.get_partial_shape()), _layout(port)))
    return tuple(specs)


class ServedModel:
    """A model version that loads on first use and infers through a bounded pool."""

    def __init__(
        self, config: ModelConfig, version: int, folder: Path | Callable[[], Path], cpu_extension: str | None = None
    ) -> None:
        """``folder`` is the version's local folder, or a callable that fetches it (remote storage) when loading."""
        self.config = config
        self.version = version
        self._source = folder
        self._cpu_extension = cpu_extension
        self._loaded: _Loaded | None = None
        self._loading: asyncio.Future | None = None
        self._reshape_lock = asyncio.Lock()
        self._on_demand: frozenset[str] = frozenset()
        self._batching_skip_logged = False
        self.label = f"{config.name} v{version}"

    @property
    def folder(self) -> Path | None:
        """The local version folder when it is known before loading (local storage)."""
        return self._source if isinstance(self._source, Path) else None

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def parallelism(self) -> int:
        """How many inferences of this version can run at once (its pool size; 1 before loading)."""
        return self._loaded.pool.size if self._loaded is not None else 1

    @property
    def follows_request_shapes(self) -> bool:
        """Whether some input is recompiled for the shapes requests bring: a request's shape is no error up front."""
        return bool(self._on_demand)

    @property
    def signature(self) -> Signature:
        if self._loaded is None:
            raise RuntimeError("signature read before load")
        return self._loaded.signature

    @property
    def request_signature(self) -> Signature:
        """What requests are decoded and checked against: ``signature``, except that with batching a fixed batch N
        takes 1 to N rows (the batcher pads them); metadata keeps showing ``signature``."""
        if self._loaded is None:
            raise RuntimeError("signature read before load")
        return self._loaded.checked

    @property
    def runtime(self) -> tuple[Any, InferPool] | None:
        """The compiled model and its pool while loaded (``/metrics`` reads streams, nireq and busy requests), else None."""
        return (self._loaded.compiled, self._loaded.pool) if self._loaded is not None else None

    @property
    def batcher(self) -> Batcher | None:
        """The version's batcher when batching is on for it (its ``stats`` are the debug counters)."""
        runner = self._loaded.runner if self._loaded is not None else None
        return runner if isinstance(runner, Batcher) else None

    async def ensure_loaded(self) -> None:
        """Load once; every concurrent caller awaits the same load and sees its error."""
        if self._loaded is not None:
            return
        if self._loading is None:
            self._loading = run_in_daemon_thread(self._load, name=f"ovserve-load-{self.label}")
        try:
            self._loaded = await asyncio.shield(self._loading)
        except StorageError:
            self._loading = None  # storage trouble passes: the next request tries again
            raise

    def _load(self) -> _Loaded:
        started = time.monotonic()
        folder = self._source() if callable(self._source) else self._source
        path = find_model_file(folder)
        if path is None:
            raise ModelLoadError(f"no model file in version folder {folder.name}")
        mapping = read_mapping(folder)
        loaded, plan = self._build(path, mapping, dynamic=True)
        if loaded is None:
            log.warning(
                "device cannot compile the model with dynamic dimensions; it will be recompiled for the shapes requests bring",
                extra={"model": self.config.name, "version": self.version, "inputs": sorted(plan.dynamic)},
            )
            loaded, plan = self._build(path, mapping, dynamic=False)
            assert loaded is not None
        self._on_demand = plan.on_demand
        seconds, from_cache = time.monotonic() - started, _from_cache(loaded.compiled)
        log.info(
            "model version loaded",
            extra={"model": self.config.name, "version": self.version, "seconds": round(seconds, 3), "from_cache": from_cache},
        )
        metrics.model_loaded(self.config.name, seconds, from_cache)
        return loaded

    def _build(self, path: Path, mapping: Mapping, dynamic: bool) -> tuple[_Loaded | None, ReshapePlan]:
        """Read, reshape, apply layout and compile; None when only the dynamic 'auto' dimensions failed to compile."""
        core = get_core(self._cpu_extension)
        try:
            model = core.read_model(str(path))
        except Exception as exc:
            raise ModelLoadError(f"cannot read {path.name}: {short_reason(exc)}") from None
        plan = apply_shape(model, self.config, mapping.inputs, dynamic=dynamic)
        model = apply_layout_and_types(model, self.config, mapping.inputs, mapping.outputs)
        try:
            return self._compile(model, mapping, plan.on_demand), plan
        except BatchingRefused:
            raise
        except ModelLoadError:
            if plan.dynamic:
                return None, plan
            raise

    def _compile(self, model: Any, mapping: Mapping, on_demand: frozenset[str]) -> _Loaded:
        """Compile ``model`` and put a pool (and a batcher, when configured) in front of it.

        ``on_demand``: inputs recompiled per request shape; such a version is never batched.
        """
        compiled = self._compile_only(model)
        inputs = _specs(list(compiled.inputs), mapping.inputs, "input")
        outputs = _specs(list(compiled.outputs), mapping.outputs, "output")
        originals = {
            spec.name: (port.get_any_name() if port.get_names() else spec.name)
            for spec, port in zip(inputs, compiled.inputs, strict=True)
        }
        pool = self._pool(compiled)
        signature = Signature(inputs, outputs)
        runner, checked = self._batching(pool, signature, on_demand)
        return _Loaded(model, compiled, signature, pool, mapping, originals, runner, checked)

    def _compile_only(self, model: Any) -> Any:
        """``model`` compiled for the configured device and properties (``ModelLoadError`` when refused)."""
        core = get_core(self._cpu_extension)
        from .cpu_quota import fit_to_cpu_quota  # threads sized to the container's CPU quota, read once per process

        properties = fit_to_cpu_quota(self.config.plugin_config, self.config.target_device)
        if self.config.cache_dir:
            properties["CACHE_DIR"] = self.config.cache_dir
        try:
            return core.compile_model(model, self.config.target_device, properties)
        except Exception as exc:
            raise ModelLoadError(f"cannot compile for {self.config.target_device}: {short_reason(exc)}") from None

    def _pool(self, compiled: Any) -> InferPool:
        size = self.config.nireq or int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        meter = metrics.version_meter(self.config.name, self.version)  # None while metrics are off
        return InferPool(compiled, max(1, size), self.config.max_queued_requests, self.label, meter)

    def _batching(
        self, pool: InferPool, signature: Signature, on_demand: frozenset[str]
    ) -> tuple[InferPool | Batcher, Signature]:
        """The runner and request signature for this compile: the pool itself unless batching is configured.

        A model that cannot be batched stops its load with a message saying why
        (``ModelLoadError``): serving it unbatched would silently ignore the setting.
        On-demand reshapes win over batching: each request shape is a compile of its
        own, so there is nothing to merge into; the version runs unbatched, said once.
        """
        settings = self.config.batching
        if settings is None:
            return pool, signature
        if on_demand:
            if not self._batching_skip_logged:
                self._batching_skip_logged = True
                log.warning("batching is off for this version: it is recompiled for the shapes requests bring", extra={
                    "model": self.config.name, "version": self.version, "inputs": sorted(on_demand)})
            return pool, signature
        problem = batching_problem(signature)
        if problem:
            pool.close()
            raise BatchingRefused(f"batching: {problem}")
        return Batcher(pool, signature, settings, self.label, pool.meter), validation_signature(signature)

    async def infer(self, arrays: dict[str, np.ndarray], output_filter: list[str] | None = None) -> dict[str, np.ndarray]:
        """Validate ``arrays`` (client input names) and infer; returns client output names -> arrays.

        Arrays come as their codec decoded them (JSON numbers already rounded to
        the input's type), so the check here only converts where no value changes.
        """
        await self.ensure_loaded()
        loaded = self._loaded
        assert loaded is not None
        ready = prepare(arrays, loaded.checked)
        problem = first_shape_problem(ready, loaded.checked)
        if problem:
            if not self._on_demand:
                raise InvalidInput(problem)
            loaded = await self._reshape_for(ready)
        outputs_wanted = loaded.signature.output_names()
        if output_filter:
            unknown = [name for name in output_filter if name not in outputs_wanted]
            if unknown:
                raise InvalidInput(f"output tensors not in signature: {unknown}. Outputs are {outputs_wanted}")
        by_index = {loaded.signature.input(name).index: array for name, array in ready.items()}  # type: ignore[union-attr]
        try:
            results = await loaded.runner.run(by_index)
        except InferenceOutOfMemory:
            await self._renew(loaded)
            raise
        named = dict(zip(outputs_wanted, results, strict=True))
        if output_filter:
            return {name: named[name] for name in output_filter}
        return named

    async def _reshape_for(self, ready: dict[str, np.ndarray]) -> _Loaded:
        """Recompile for a request's shapes (models without dynamic dimensions under 'auto')."""
        async with self._reshape_lock:
            current = self._loaded
            assert current is not None
            misfits = {
                name: problem
                for name, array in ready.items()
                if (problem := shape_mismatch(current.signature.input(name), array.shape))  # type: ignore[arg-type]
            }
            if not misfits:
                return current  # another request reshaped it meanwhile
            for name, problem in misfits.items():
                if current.original_names[name] not in self._on_demand:
                    raise InvalidInput(problem)  # only 'auto' inputs follow the request
            shapes = {
                current.original_names[name]: array.shape
                for name, array in ready.items()
                if current.original_names[name] in self._on_demand
            }
            model = current.model.clone()
            reshape_for_request(model, shapes)
            try:
                replacement = await run_in_daemon_thread(lambda: self._compile(model, current.mapping, self._on_demand))
            except ModelLoadError as exc:  # this request's shapes are what the device refused
                described = ", ".join(f"{name} {list(shape)}" for name, shape in shapes.items())
                raise InvalidInput(f"the model cannot be compiled for {described}: {exc.message}") from None
            self._loaded = replacement
            current.close()
            log.info("model recompiled for new input shapes", extra={"model": self.config.name, "version": self.version})
            return replacement

    async def _renew(self, broken: _Loaded) -> None:
        """Recompile after a failed allocation left the compiled model answering with stale errors.

        If memory is still too short to recompile, the old compiled model stays and the
        caller still gets its out-of-memory answer; the next such failure tries again.
        """
        async with self._reshape_lock:
            if self._loaded is not broken:
                return  # someone renewed it already
            model = broken.model.clone()
            try:
                self._loaded = await run_in_daemon_thread(lambda: self._compile(model, broken.mapping, self._on_demand))
            except ModelLoadError as exc:
                log.error("recompiling after a failed memory allocation failed", extra={
                    "model": self.config.name, "version": self.version, "reason": exc.message})
                return
            broken.close()
            log.warning("model recompiled after a failed memory allocation", extra={"model": self.config.name, "version": self.version})

    def unload(self) -> None:
        """Drop the compiled model; callers make sure nothing is in flight."""
        if self._loaded is not None:
            self._loaded.close()
        self._loaded = None
        self._loading = None
