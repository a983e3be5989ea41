"""A function's output cut into invocations, by the emulator's own START and END lines.

The runtime writes straight into the emulator's output file (its stdout and
stderr are that file), so every line it writes for an invocation lands
between that invocation's ``START RequestId: …`` and ``END RequestId: …``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_START = re.compile(r"^START RequestId: (\S+)")
_END = re.compile(r"^END RequestId: (\S+)")


@dataclass
class Invocation:
    """One invocation's Lambda request id and the lines written during it."""

    aws_request_id: str
    lines: list[str] = field(default_factory=list)

    def json_lines(self) -> list[dict]:
        """Every line that is a JSON object (log lines and metrics lines); a line starting with { must parse whole."""
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def logs(self) -> list[dict]:
        """The JSON log records (they have a level); metrics lines are not among them."""
        return [entry for entry in self.json_lines() if "level" in entry]

    def metrics(self) -> list[dict]:
        """The Embedded Metric Format lines (an ``_aws`` block at the top level)."""
        return [entry for entry in self.json_lines() if "_aws" in entry]


def invocations(text: str) -> list[Invocation]:
    """The invocations in ``text``, in the order they ran; one still running is left out."""
    done: list[Invocation] = []
    running: Invocation | None = None
    for line in text.splitlines():
        if start := _START.match(line):
            running = Invocation(start[1])
        elif (end := _END.match(line)) and running is not None:
            assert end[1] == running.aws_request_id, f"END of {end[1]} inside {running.aws_request_id}"
            done.append(running)
            running = None
        elif running is not None:
            running.lines.append(line)
    return done
