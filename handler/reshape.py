"""Batch size, shape and layout applied to an ``openvino.Model`` before compiling.

``auto`` prefers OpenVINO dynamic dimensions: one compile serves every batch
size or shape, where the original server recompiled on each change. Only a
model that refuses dynamic dimensions falls back to recompiling for the shapes
requests bring (``ReshapePlan.on_demand``). ``shape`` is given in the model's
own layout and wins over ``batch_size``; ``layout`` then changes what clients
send through OpenVINO pre/post-processing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInput, ModelLoadError
from .preprocess import add_image_steps, image_model_layout, image_ports
from .settings.config import ModelConfig
from .settings.values import Dims

log = logging.getLogger("ovserve.reshape")


@dataclass(frozen=True)
class ReshapePlan:
    """What load did with 'auto' inputs: made them ``dynamic``, or left them ``on_demand``.

    ``on_demand`` inputs are recompiled for the shapes requests bring.
    """

    dynamic: frozenset[str] = frozenset()
    on_demand: frozenset[str] = frozenset()


def _partial_shape(dims: Dims) -> Any:
    import openvino as ov

    return ov.PartialShape(
        [ov.Dimension(d[0], d[1]) if isinstance(d, tuple) else ov.Dimension(d) for d in dims]
    )


def _port_names(port: Any) -> set[str]:
    return set(port.get_names())


def _find_port(ports: list, name: str, aliases: dict[str, str]) -> Any | None:
    """A port by original name or by its mapping alias."""
    originals = {alias: original for original, alias in aliases.items()}
    wanted = originals.get(name, name)
    for port in ports:
        if wanted in _port_names(port):
            return port
    return None


def _targets(model: Any, config: ModelConfig, aliases: dict[str, str]) -> tuple[dict[Any, Dims], set[str]]:
    """Input port -> requested dims, and the inputs whose dims are 'auto'."""
    inputs = list(model.inputs)
    targets: dict[Any, Dims] = {}
    auto: set[str] = set()

    def make_dynamic(port: Any) -> None:
        rank = port.get_partial_shape().rank
        if rank.is_dynamic:
            return
        targets[port] = tuple(-1 for _ in range(rank.get_length()))
        auto.add(port.get_any_name())

    shape = config.shape
    if shape is not None:
        if config.batch_size is not None:
            log.warning("shape given together with batch_size; shape wins", extra={"model": config.name})
        if shape.auto:
            for port in inputs:
                make_dynamic(port)
        elif shape.single is not None:
            if len(inputs) != 1:
                names = [p.get_any_name() for p in inputs]
                raise ModelLoadError(
                    f"shape {list(shape.single)} is one shape but the model has inputs {names}; "
                    'give a JSON object of input name to shape instead'
                )
            targets[inputs[0]] = shape.single
        else:
            for name, dims in shape.per_input:
                port = _find_port(inputs, name, aliases)
                if port is None:
                    names = [p.get_any_name() for p in inputs]
                    raise ModelLoadError(f"shape names input {name!r}, which the model does not have; inputs are {names}")
                if dims == "auto":
                    make_dynamic(port)
                else:
                    targets[port] = dims  # type: ignore[assignment]
    elif config.batch_size is not None:
        for port in inputs:
            partial = port.get_partial_shape()
            if partial.rank.is_dynamic or partial.rank.get_length() == 0:
                continue
            current = [
                (d.get_min_length(), d.get_max_length()) if d.is_dynamic and d.get_max_length() >= 0
                else (d.get_length() if d.is_static else -1)
                for d in partial
            ]
            if config.batch_size == "auto":
                current[0] = -1
                auto.add(port.get_any_name())
            else:
                current[0] = int(config.batch_size)
            targets[port] = tuple(current)
    return targets, auto


def _reshape(model: Any, targets: dict[Any, Dims]) -> None:
    if not targets:
        return
    try:
        model.reshape({port: _partial_shape(dims) for port, dims in targets.items()})
    except Exception as exc:
        raise ModelLoadError(f"cannot reshape the model as configured: {short_reason(exc)}") from None


def apply_shape(model: Any, config: ModelConfig, aliases: dict[str, str], dynamic: bool = True) -> ReshapePlan:
    """Reshape ``model`` in place as configured.

    With ``dynamic`` (the first try), 'auto' inputs get dynamic dimensions; if
    the model refuses them, or the caller retries with ``dynamic=False`` after
    the device refused to compile them, 'auto' inputs keep their shapes and are
    recompiled on demand.
    """
    targets, auto = _targets(model, config, aliases)
    fixed = {port: dims for port, dims in targets.items() if port.get_any_name() not in auto}
    if dynamic and auto:
        try:
            model.reshape({port: _partial_shape(dims) for port, dims in targets.items()})
            return ReshapePlan(dynamic=frozenset(auto))
        except Exception as exc:
            log.warning(
                "model refuses dynamic dimensions; it will be recompiled for the shapes requests bring",
                extra={"model": config.name, "reason": short_reason(exc)},
            )
    _reshape(model, fixed)
    return ReshapePlan(on_demand=frozenset(auto))


def reshape_for_request(model: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    """Reshape inputs (by original name) to a request's exact shapes, or InvalidInput saying why not."""
    ports = {port.get_any_name(): port for port in model.inputs}
    try:
        model.reshape({ports[name]: _partial_shape(shape) for name, shape in shapes.items()})
    except Exception as exc:
        described = ", ".join(f"{name} {list(shape)}" for name, shape in shapes.items())
        raise InvalidInput(f"the model cannot be reshaped to {described}: {short_reason(exc)}") from None


def _split_layout(text: str) -> tuple[str, str | None]:
    tensor, _, model = text.partition(":")
    return tensor, (model or None)


def apply_layout_and_types(model: Any, config: ModelConfig, aliases_in: dict[str, str], aliases_out: dict[str, str]) -> Any:
    """Pre/post-processing: client layouts (NHWC for an NCHW model) and bf16 exposed as f32."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    layout = config.layout
    per_tensor: dict[str, str] = {}
    if isinstance(layout, str):
        if len(model.inputs) != 1:
            names = [p.get_any_name() for p in model.inputs]
            raise ModelLoadError(f"layout {layout!r} applies to a single input but the model has inputs {names}")
        per_tensor[model.inputs[0].get_any_name()] = layout
    elif isinstance(layout, dict):
        per_tensor = dict(layout)

    ppp = PrePostProcessor(model)
    changed = _apply_image(ppp, model, config, per_tensor, aliases_in)
    for name, text in per_tensor.items():
        tensor_layout, model_layout = _split_layout(text)
        port = _find_port(list(model.inputs), name, aliases_in)
        is_input = port is not None
        if port is None:
            port = _find_port(list(model.outputs), name, aliases_out)
        if port is None:
            raise ModelLoadError(f"layout names tensor {name!r}, which is neither an input nor an output of the model")
        rank = port.get_partial_shape().rank
        if rank.is_static and rank.get_length() != len(tensor_layout):
            raise ModelLoadError(
                f"layout {tensor_layout} for {name!r} has {len(tensor_layout)} dimensions but the tensor has {rank.get_length()}"
            )
        if model_layout is None:
            existing = ov.layout_helpers.get_layout(port)
            model_layout = "NCHW" if existing.empty else existing.to_string().strip("[]").replace(",", "")
        if sorted(model_layout) != sorted(tensor_layout):
            raise ModelLoadError(f"layout {text!r} for {name!r}: tensor and model layouts must use the same letters")
        original = port.get_any_name()
        side = ppp.input(original) if is_input else ppp.output(original)
        side.model().set_layout(ov.Layout(model_layout))
        side.tensor().set_layout(ov.Layout(tensor_layout))
        changed = True
    for port in model.inputs:
        if port.get_element_type() == ov.Type.bf16:
            ppp.input(port.get_any_name()).tensor().set_element_type(ov.Type.f32)
            changed = True
    for port in model.outputs:
        if port.get_element_type() == ov.Type.bf16:
            ppp.output(port.get_any_name()).tensor().set_element_type(ov.Type.f32)
            changed = True
    if not changed:
        return model
    try:
        return ppp.build()
    except Exception as exc:
        what = f"layout {layout!r}" if config.image is None else f"layout {layout!r} and the image setting"
        raise ModelLoadError(f"cannot apply {what}: {short_reason(exc)}") from None


def _apply_image(ppp: Any, model: Any, config: ModelConfig, per_tensor: dict[str, str], aliases: dict[str, str]) -> bool:
    """The ``image`` setting's steps for each 4-D input; their ``layout`` entries (taken out of ``per_tensor``)
    name the model's layout, and the tensor side must be NHWC, what images decode to."""
    if config.image is None:
        return False
    for port in image_ports(model, config.image):
        declared = None
        for name in list(per_tensor):
            if _find_port([port], name, aliases) is not None:
                tensor_layout, declared = _split_layout(per_tensor.pop(name))
                if tensor_layout != "NHWC":
                    raise ModelLoadError(
                        f"layout {tensor_layout!r} for {name!r}: with the image setting the input takes NHWC images; "
                        f"expected NHWC or NHWC:<model layout>"
                    )
        add_image_steps(ppp, port, config.image, image_model_layout(port, declared))
    return True


def short_reason(exc: BaseException) -> str:
    """OpenVINO's message without its source-file breadcrumbs, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Exception from src/")]
    text = " ".join(useful or lines) or type(exc).__name__
    return text[:500]
