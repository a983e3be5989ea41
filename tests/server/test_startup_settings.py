"""Bad limits and OVMS keys that ask for missing features stop real processes: one line naming the setting, exit 2.

Each process exits during settings validation, before any model is read, so
these run in well under a second apiece. ``OVSERVE_MAX_RECORDS_PER_BATCH``
used to be parsed when ``handler.batching`` (now ``handler.records``) was imported (a traceback and
exit 1), and ``OVSERVE_MAX_ARCHIVE_BYTES`` was ignored when malformed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serverproc import REPO, free_port

STANDALONE = [sys.executable, "-m", "ovserve.server", "--rest_port", "0", "--port", "0"]
SAGEMAKER = [sys.executable, "-m", "ovserve.sagemaker", "serve"]


def start_up(command: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``command`` to its end; (exit code, stderr lines)."""
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, cwd=REPO)
    return done.returncode, done.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("variable", "value", "flag"),
    [("OVSERVE_MAX_RECORDS_PER_BATCH", "abc", "--max_records_per_batch"), ("OVSERVE_MAX_ARCHIVE_BYTES", "20G", "--max_archive_bytes"),
     ("OVSERVE_MAX_IMAGE_PIXELS", "50M", "--max_image_pixels")],
)
def test_a_bad_limit_in_the_environment_stops_both_front_ends(tmp_path: Path, variable: str, value: str, flag: str) -> None:
    standalone = [*STANDALONE, "--model_name", "m", "--model_path", str(tmp_path), "--rest_port", str(free_port())]
    code, lines = start_up(standalone, {variable: value})
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith(f"ovserve: {flag}: expected an integer from 1 to ") and lines[0].endswith(f"got {value!r}")

    code, lines = start_up(SAGEMAKER, {variable: value, "OVSERVE_MODEL_PATH": str(tmp_path), "SAGEMAKER_BIND_TO_PORT": str(free_port())})
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith(f"ovserve serve: {flag}: expected an integer from 1 to ")


def test_a_stateful_model_in_config_json_stops_start_up(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": {"name": "lstm", "base_path": "lstm", "stateful": True}}]}))
    code, lines = start_up([*STANDALONE, "--config_path", str(config), "--rest_port", str(free_port())], {})
    assert (code, lines) == (2, ["ovserve: model_config_list[0].config.stateful: stateful models are not supported; "
                                 "expected false, got 'true'"])


def test_a_bad_image_setting_in_config_json_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    image = {"color": "RGB", "mean": [1, 2], "resize": "linear"}
    config.write_text(json.dumps({"model_config_list": [{"config": {"name": "m", "base_path": "m", "image": image}}]}))
    code, lines = start_up([*STANDALONE, "--config_path", str(config), "--rest_port", str(free_port())], {})
    assert (code, lines) == (2, ["ovserve: model_config_list[0].config.image.mean: expected a list of 1 or 3 numbers "
                                 "(one per channel), got '[1, 2]'"])
