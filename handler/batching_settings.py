"""Dynamic batching settings, from config.json, TF Serving's ``--batching_parameters_file`` or SageMaker's environment.

One typed object (``BatchingSettings``) whichever route set it, validated once at
start-up: a bad value is a ``ConfigError`` with one line naming the field and
what is expected, so the server exits 2 instead of batching wrongly. Names are
TF Serving's (``max_batch_size``, ``batch_timeout_micros``,
``max_enqueued_batches``, ``num_batch_threads``, ``allowed_batch_sizes``).

Defaults, and why (they apply to whatever a route leaves out):

* ``max_batch_size`` 32: TF Serving's 1000 suits GPUs; on a CPU the fixed cost
  per inference is already paid down at a few dozen rows, and larger batches
  only lengthen every request's wait and the memory one inference holds.
* ``batch_timeout_micros`` 1000: SageMaker's container default. The batcher
  waits only while the model is already inferring (``batcher.py``), so a
  request on an idle model never pays it; 1 ms is short next to a CPU
  inference worth batching and long enough to gather a burst.
* ``max_enqueued_batches`` 16: batches waiting for an infer request; with 32
  rows each that is 512 single-row requests, a few inference rounds of queue,
  beyond which answering 503 at once beats queueing (TF Serving's 10 at 1000
  rows would be ten thousand).
* ``num_batch_threads`` None: as many batches at once as the version has
  infer requests (``--nireq`` or OpenVINO's optimal number); a value caps that.

The SageMaker route keeps the container's own defaults (8 rows, 1000 µs, and
as many enqueued batches as CPUs, or 100000000 under ``SAGEMAKER_BATCH``), so
an endpoint moved from the TF Serving container batches as it did.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings.values import fail, parse_int

DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_BATCH_TIMEOUT_MICROS = 1000
DEFAULT_MAX_ENQUEUED_BATCHES = 16
MAX_ROWS = 1_000_000
MAX_TIMEOUT_MICROS = 60_000_000  # a minute: anything longer is a unit mistake (milliseconds or seconds given)
MAX_ENQUEUED = 100_000_000  # SageMaker's container value for batch transform
SAGEMAKER_MAX_BATCH_SIZE = 8
SAGEMAKER_BATCH_TIMEOUT_MICROS = 1000
CONFIG_KEYS = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads", "allowed_batch_sizes")


@dataclass(frozen=True)
class BatchingSettings:
    """How one model version merges concurrent requests (see ``batcher.Batcher``)."""

    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    batch_timeout_micros: int = DEFAULT_BATCH_TIMEOUT_MICROS
    max_enqueued_batches: int = DEFAULT_MAX_ENQUEUED_BATCHES
    allowed_batch_sizes: tuple[int, ...] = field(default_factory=tuple)
    num_batch_threads: int | None = None
    where: str = field(default="batching", compare=False)  # names the source in errors: "models[0].batching", a path

    def __post_init__(self) -> None:
        """Check every field once, whichever route built the object: bad values never reach the batcher."""
        key = self.where + (" " if self.where.endswith(":") else ".")
        parse_int(key + "max_batch_size", self.max_batch_size, minimum=1, maximum=MAX_ROWS)
        parse_int(key + "batch_timeout_micros", self.batch_timeout_micros, minimum=0, maximum=MAX_TIMEOUT_MICROS)
        parse_int(key + "max_enqueued_batches", self.max_enqueued_batches, minimum=1, maximum=MAX_ENQUEUED)
        if self.num_batch_threads is not None:
            parse_int(key + "num_batch_threads", self.num_batch_threads, minimum=1, maximum=1024)
        sizes = self.allowed_batch_sizes
        expected = f"a strictly increasing list of integers >= 1 ending with max_batch_size ({self.max_batch_size})"
        if not isinstance(sizes, tuple) or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
            raise fail(key + "allowed_batch_sizes", expected, list(sizes) if isinstance(sizes, tuple) else sizes)
        if sizes and (any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)) or sizes[-1] != self.max_batch_size):
            raise fail(key + "allowed_batch_sizes", expected, list(sizes))

    @property
    def timeout_seconds(self) -> float:
        return self.batch_timeout_micros / 1_000_000


def from_config(value: Any, where: str = "batching") -> BatchingSettings | None:
    """config.json's per-model ``"batching"``: an object of the settings (``{}`` for the defaults), ``true`` or ``false``.

    ``false`` or a missing key (None) means no batching for that model: batching is off by default.
    """
    if value is None or value is False:
        return None
    if value is True:
        return BatchingSettings(where=where)
    if not isinstance(value, dict):
        raise fail(where, "an object of " + ", ".join(CONFIG_KEYS) + ", or true/false", value)
    unknown = sorted(set(value) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected only {', '.join(CONFIG_KEYS)}")
    sizes = value.get("allowed_batch_sizes", [])
    if not isinstance(sizes, list):
        raise fail(f"{where}.allowed_batch_sizes", "a list of integers", sizes)
    return BatchingSettings(
        max_batch_size=_whole(where, "max_batch_size", value, DEFAULT_MAX_BATCH_SIZE),
        batch_timeout_micros=_whole(where, "batch_timeout_micros", value, DEFAULT_BATCH_TIMEOUT_MICROS),
        max_enqueued_batches=_whole(where, "max_enqueued_batches", value, DEFAULT_MAX_ENQUEUED_BATCHES),
        num_batch_threads=_whole(where, "num_batch_threads", value, None),
        allowed_batch_sizes=tuple(sizes),
        where=where,
    )


def _whole(where: str, name: str, given: Mapping[str, Any], default: int | None) -> Any:
    """A JSON integer as it is; anything else (text, floats, booleans) fails with the field's name."""
    value = given.get(name, default)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise fail(f"{where}.{name}", "an integer", value)


def from_text_file(path: str | Path) -> BatchingSettings:
    """TF Serving's ``--batching_parameters_file``: a ``BatchingParameters`` message in protobuf text format.

    Fields left out take this module's defaults (not TF core's 1000 rows / 0 µs / 10 batches: see above).
    ``thread_pool_name`` and ``max_execution_batch_size`` are accepted and have no effect (no named pools;
    no splitting); splitting large requests and padding variable-length inputs are refused when asked for.
    """
    from google.protobuf import text_format

    from .protos.batching_pb2 import BatchingParameters

    where = f"--batching_parameters_file {path}:"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where} cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where} not UTF-8 text") from None
    try:
        message = text_format.Parse(text, BatchingParameters())
    except text_format.ParseError as exc:
        reason = str(exc).split(" : ", 1)[-1]
        raise ConfigError(f"{where} line {exc.GetLine()}: {reason}; expected BatchingParameters text format, "
                          "e.g. 'max_batch_size { value: 32 }'") from None
    if message.HasField("enable_large_batch_splitting") and message.enable_large_batch_splitting.value:
        raise ConfigError(f"{where} enable_large_batch_splitting: expected false; a request larger than "
                          "max_batch_size runs on its own instead of being split")
    if message.pad_variable_length_inputs:
        raise ConfigError(f"{where} pad_variable_length_inputs: expected false; requests whose non-batch "
                          "dimensions differ run in separate batches instead of being padded")

    def wrapped(name: str, default: int | None) -> int | None:
        return getattr(message, name).value if message.HasField(name) else default

    return BatchingSettings(
        max_batch_size=wrapped("max_batch_size", DEFAULT_MAX_BATCH_SIZE),  # type: ignore[arg-type]
        batch_timeout_micros=wrapped("batch_timeout_micros", DEFAULT_BATCH_TIMEOUT_MICROS),  # type: ignore[arg-type]
        max_enqueued_batches=wrapped("max_enqueued_batches", DEFAULT_MAX_ENQUEUED_BATCHES),  # type: ignore[arg-type]
        num_batch_threads=wrapped("num_batch_threads", None),
        allowed_batch_sizes=tuple(message.allowed_batch_sizes),
        where=where,
    )


def from_sagemaker_env(environ: Mapping[str, str] | None = None) -> BatchingSettings | None:
    """The SageMaker TF Serving container's variables; None unless ``SAGEMAKER_TFS_ENABLE_BATCHING`` is true.

    As in the container, the flag must be ``true`` or ``false`` (any case): another value stops start-up.
    """
    env = os.environ if environ is None else environ
    flag = env.get("SAGEMAKER_TFS_ENABLE_BATCHING", "false").strip().lower()
    if flag not in ("true", "false"):
        raise fail("SAGEMAKER_TFS_ENABLE_BATCHING", "true or false", env["SAGEMAKER_TFS_ENABLE_BATCHING"])
    if flag == "false":
        return None
    cpus = os.cpu_count() or 1
    enqueued_default = MAX_ENQUEUED if env.get("SAGEMAKER_BATCH") else cpus  # set (to anything) in batch transform

    def number(name: str, default: int | None, minimum: int, maximum: int) -> int | None:
        text = env.get(name)
        if text is None or text.strip() == "":
            return default
        return parse_int(name, text, minimum=minimum, maximum=maximum)

    return BatchingSettings(
        max_batch_size=number("SAGEMAKER_TFS_MAX_BATCH_SIZE", SAGEMAKER_MAX_BATCH_SIZE, 1, MAX_ROWS),  # type: ignore[arg-type]
        batch_timeout_micros=number(  # type: ignore[arg-type]
            "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS", SAGEMAKER_BATCH_TIMEOUT_MICROS, 0, MAX_TIMEOUT_MICROS),
        max_enqueued_batches=number("SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES", enqueued_default, 1, MAX_ENQUEUED),  # type: ignore[arg-type]
        num_batch_threads=number("SAGEMAKER_TFS_NUM_BATCH_THREADS", None, 1, 1024),
        where="SAGEMAKER_TFS_*",
    )
