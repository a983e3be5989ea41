"""Calling one of a script's functions: its context when it takes one, and its failure as an answer.

Every call into user code goes through ``call``, so every hook fails the same
way (``answers.from_exception``) and ``sys.exit()`` in a script ends the
request with a 500, not the server. A failure that already is an answer (a
TF Serving call's 4xx) travels up as ``Answered`` and ends the request there.
"""

from __future__ import annotations

from typing import Any

from . import answers
from .answers import ScriptAnswer
from .context import Context
from .loading import Hook


class Answered(Exception):
    """A hook's failure that is already the request's answer."""

    def __init__(self, answer: ScriptAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def call(script: str, hook: Hook, context: Context | None, *args: Any) -> Any:
    """``hook(*args[, context])``; its exception becomes the ovserve error to answer, ``ScriptFailed`` or ``Answered``."""
    arguments = (*args, context) if hook.takes_context else args
    try:
        return hook.function(*arguments)
    except (Exception, SystemExit) as exc:  # SystemExit: a script's sys.exit() must not stop the server
        raise Answered(answers.from_exception(exc, script, hook.name)) from None
