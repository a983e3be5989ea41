"""Importing a script and deciding which of the three styles it is written in.

The styles, in AWS's order of precedence:

- ``handler(data, context)``: the whole request (AWS's TF Serving container);
- ``input_handler(data, context)`` + ``output_handler(response, context)``:
  the body to predict on, then the answer from the prediction;
- the SageMaker inference toolkit's ``model_fn(model_dir)``,
  ``input_fn(data, content_type)``, ``predict_fn(data, model)``,
  ``output_fn(prediction, accept)``, or ``transform_fn(model, data,
  content_type, accept)`` instead of the last three. Each may take one more
  parameter, ``context``; the toolkit decides by counting parameters, and so does this.

A script with none of them, half of a pair, ``transform_fn`` mixed with the
hooks it replaces, a hook with the wrong number of parameters, or one that
raises while it is imported, is refused with a ``ScriptError`` naming the file
and what was looked for, when it is loaded, never on its first request.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..errors import ConfigError
from .answers import script_traceback
from .discovery import CodeFolder

HANDLER, PAIR, TOOLKIT = "handler", "input_handler/output_handler", "inference toolkit"
TFS_FUNCTIONS = {"handler": 2, "input_handler": 2, "output_handler": 2}
# Each hook's parameters without the optional trailing context.
TOOLKIT_HOOKS = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
LOOKED_FOR = (
    "handler(data, context), or input_handler(data, context) with output_handler(response, context), or the SageMaker "
    "inference toolkit's model_fn(model_dir), input_fn(data, content_type), predict_fn(data, model), "
    "output_fn(prediction, accept) or transform_fn(model, data, content_type, accept)"
)


class ScriptError(ConfigError):
    """A script that cannot serve: the message names the file and the problem; ``details`` the traceback, if any."""

    details_field = "traceback"  # what ``details`` is, as a log field

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Hook:
    """One function of the script, and whether it takes the trailing ``context``."""

    name: str
    function: Callable[..., Any]
    takes_context: bool = False


@dataclass(frozen=True)
class Script:
    """An imported script: its style and the functions that style calls."""

    code: CodeFolder
    module: ModuleType
    style: str
    hooks: dict[str, Hook]
    path_entries: tuple[str, ...] = field(default=())  # what importing it put on sys.path

    @property
    def label(self) -> str:
        return self.code.label

    def hook(self, name: str) -> Hook | None:
        return self.hooks.get(name)


def _on_path(code: CodeFolder) -> tuple[str, ...]:
    """``code/lib`` and ``code/`` first on ``sys.path``, so the script's own modules import (and win)."""
    added = []
    for folder in (code.folder, code.lib):
        if folder is None:
            continue
        entry = str(folder)
        if entry not in sys.path:
            sys.path.insert(0, entry)
            added.append(entry)
    return tuple(added)


def import_module(code: CodeFolder, module_name: str) -> tuple[ModuleType, tuple[str, ...]]:
    """Run the script's file as module ``module_name``; ScriptError with the traceback when it raises."""
    added = _on_path(code)
    spec = importlib.util.spec_from_file_location(module_name, code.script)
    if spec is None or spec.loader is None:
        raise ScriptError(f"{code.label}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 (SystemExit from a script too: it must not end the server)
        sys.modules.pop(module_name, None)
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        raise ScriptError(f"{code.label}: importing it raised {type(exc).__name__}: {str(exc)[:500]}", script_traceback(exc)) from None
    return module, added


def _takes_context(code: CodeFolder, name: str, function: Any, count: int, optional_context: bool) -> bool:
    """Whether ``function`` takes ``count`` parameters (False) or one more, the context (True)."""
    if not callable(function):
        raise ScriptError(f"{code.label}: {name} is a {type(function).__name__}, not a function")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False  # a builtin without a signature: called without the context
    parameters = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False  # *args: called as the toolkit would call a function that takes no context
    positional = [p for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is inspect.Parameter.empty)
    if len(positional) == count:
        return False
    if optional_context and len(positional) == count + 1:
        return True
    if required <= count < len(positional):
        return False  # the extra parameters have defaults
    expected = f"{count} or {count + 1} (the last one the context)" if optional_context else str(count)
    raise ScriptError(f"{code.label}: {name} takes {len(positional)} parameters; expected {expected}")


def _hooks(code: CodeFolder, module: ModuleType, wanted: dict[str, int], optional_context: bool) -> dict[str, Hook]:
    hooks = {}
    for name, count in wanted.items():
        function = getattr(module, name, None)
        if function is not None:
            hooks[name] = Hook(name, function, _takes_context(code, name, function, count, optional_context))
    return hooks


def style_of(code: CodeFolder, module: ModuleType) -> tuple[str, dict[str, Hook]]:
    """The script's style and hooks, by AWS's precedence; ScriptError when it defines none of them properly."""
    defined = {name for name in (*TFS_FUNCTIONS, *TOOLKIT_HOOKS) if getattr(module, name, None) is not None}
    if "handler" in defined:
        return HANDLER, _hooks(code, module, {"handler": 2}, optional_context=False)
    pair = {"input_handler", "output_handler"} & defined
    if len(pair) == 2:
        return PAIR, _hooks(code, module, {"input_handler": 2, "output_handler": 2}, optional_context=False)
    if pair:
        missing = ({"input_handler", "output_handler"} - pair).pop()
        raise ScriptError(f"{code.label}: defines {pair.pop()} but not {missing}; expected both, or handler(data, context)")
    toolkit = defined & set(TOOLKIT_HOOKS)
    if not toolkit:
        raise ScriptError(f"{code.label}: defines none of the functions a SageMaker script may; expected {LOOKED_FOR}")
    replaced = toolkit & {"input_fn", "predict_fn", "output_fn"}
    if "transform_fn" in toolkit and replaced:
        raise ScriptError(
            f"{code.label}: defines transform_fn and {', '.join(sorted(replaced))}; transform_fn replaces them, so expected "
            "one or the other, as the SageMaker inference toolkit requires"
        )
    return TOOLKIT, _hooks(code, module, TOOLKIT_HOOKS, optional_context=True)


def load(code: CodeFolder, module_name: str) -> Script:
    """Import the script and check its functions; ScriptError when it cannot serve."""
    module, added = import_module(code, module_name)
    try:
        style, hooks = style_of(code, module)
    except ScriptError:
        unload_paths(added)
        sys.modules.pop(module_name, None)
        raise
    return Script(code, module, style, hooks, added)


def unload_paths(entries: tuple[str, ...]) -> None:
    """Take a script's folders off ``sys.path`` and forget the modules imported from them (a multi-model unload)."""
    for entry in entries:
        while entry in sys.path:
            sys.path.remove(entry)
    prefixes = tuple(entry.rstrip("/") + "/" for entry in entries)
    if not prefixes:
        return
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(prefixes):
            sys.modules.pop(name, None)
