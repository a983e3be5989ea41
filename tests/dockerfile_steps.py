"""Reading a Dockerfile's instructions and replaying them on this machine, without Docker.

There is no container engine in CI, so the image's install and entry point
steps are checked by running the same commands in a fresh venv: ``WORKDIR``,
``COPY`` and ``ENV`` re-rooted under a scratch folder (absolute paths gain the
scratch prefix), ``RUN`` through ``sh -c`` with the venv first on ``PATH``, and
the exec-form ``ENTRYPOINT`` started the way ``docker run IMAGE args`` would
(with the venv's Python standing in for the image's ``/usr/local/bin/python``).
``ARG`` defaults are substituted where ``COPY`` uses them and set for ``RUN``, as build arguments are.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, argument = text.partition(" ")
        found.append(Instruction(keyword.upper(), argument.strip()))
    return found


def labels(dockerfile: Path) -> dict[str, str]:
    result: dict[str, str] = {}
    for step in instructions(dockerfile):
        if step.keyword == "LABEL":
            for token in shlex.split(step.argument):
                key, _, value = token.partition("=")
                result[key] = value
    return result


@dataclass
class Replay:
    """The state a replay builds up: scratch root, venv, environment, working folder and entry point."""

    root: Path
    context: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def rooted(self, text: str) -> str:
        """Absolute paths under /opt, /srv, /var, /tmp or /home moved under the scratch root."""
        return re.sub(r"(?<![\w./-])/(opt|srv|var|tmp|home)/", lambda m: f"{self.root}/{m.group(1)}/", text)

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    def run_all(self, dockerfile: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        # The machine's network settings (proxies, package index) stay; what would leak this checkout in goes.
        inherited = {
            k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith(("OVSERVE_", "SAGEMAKER_"))
        }
        self.env = {**inherited, "PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(self.venv)}
        self.workdir = self.root
        for step in instructions(dockerfile):
            handler = getattr(self, f"_{step.keyword.lower()}", None)
            if handler is not None:
                handler(step.argument)

    def _arg(self, argument: str) -> None:
        name, _, default = argument.partition("=")
        self.args[name.strip()] = default.strip().strip('"')

    def expanded(self, text: str) -> str:
        """``${NAME}`` and ``$NAME`` of build arguments replaced by their defaults."""
        for name, value in self.args.items():
            text = text.replace("${" + name + "}", value).replace("$" + name, value)
        return text

    def _env(self, argument: str) -> None:
        for token in shlex.split(argument):
            key, _, value = token.partition("=")
            self.env[key] = self.rooted(value)

    def _workdir(self, argument: str) -> None:
        folder = Path(self.rooted(argument))
        self.workdir = folder if folder.is_absolute() else self.workdir / folder
        self.workdir.mkdir(parents=True, exist_ok=True)

    def _copy(self, argument: str) -> None:
        *sources, target = shlex.split(self.expanded(argument))
        destination = Path(self.rooted(target))
        destination = destination if destination.is_absolute() else self.workdir / destination
        for source in sources:
            origin = self.context / source
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            elif target.endswith("/"):  # into a folder, as Docker does for a trailing slash
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)

    def _run(self, argument: str) -> None:
        # Build arguments are environment variables of RUN steps, as in Docker.
        done = subprocess.run(["sh", "-c", self.rooted(argument)], cwd=self.workdir, env={**self.args, **self.env},
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"RUN {argument[:200]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    def _entrypoint(self, argument: str) -> None:
        self.entrypoint = json.loads(argument)  # exec form only: a shell form would not pass signals on

    def _cmd(self, argument: str) -> None:
        self.cmd = json.loads(argument)

    def command(self, *args: str) -> list[str]:
        """What ``docker run IMAGE args`` executes (CMD when no args are given); the image's Python is the venv's."""
        name = self.entrypoint[0]
        if name.startswith("/usr/local/bin/python"):
            name = "python"
        executable = shutil.which(name, path=self.env["PATH"])
        assert executable, f"{self.entrypoint[0]} is not on the image's PATH"
        return [executable, *self.entrypoint[1:], *(args or self.cmd)]
