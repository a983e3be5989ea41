"""How much memory is left, how much a model will take, and handing freed memory back.

Multi-model endpoints must answer 507 *before* a load would push the
container out of memory (SageMaker then evicts another model and retries),
and must give memory back when a model is removed. The container's limit is
the cgroup's when there is one, else the machine's available memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
from pathlib import Path

# A compiled CPU model holds its weights plus working buffers; measured IR models stay under this factor.
_COMPILED_PER_FILE_BYTE = 1.5
_FIXED_OVERHEAD = 32 * 1024 * 1024


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cgroup_headroom() -> int | None:
    limit, used = _read("/sys/fs/cgroup/memory.max"), _read("/sys/fs/cgroup/memory.current")
    if limit is None or used is None:  # cgroup v1
        limit, used = _read("/sys/fs/cgroup/memory/memory.limit_in_bytes"), _read("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    if not limit or not used or limit == "max" or not limit.isdigit() or not used.isdigit():
        return None
    if int(limit) >= 1 << 60:  # v1's "no limit"
        return None
    return int(limit) - int(used)


def _meminfo_available() -> int | None:
    text = _read("/proc/meminfo")
    for line in (text or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def available_bytes(reserve_bytes: int = 0) -> int | None:
    """Memory this process can still take, minus ``reserve_bytes`` kept for other work; None when unknown."""
    known = [v for v in (_cgroup_headroom(), _meminfo_available()) if v is not None]
    if not known:
        return None
    return min(known) - reserve_bytes


def model_estimate_bytes(folder: Path) -> int:
    """What loading the model files under ``folder`` will take, roughly: their size, scaled, plus overhead."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return int(total * _COMPILED_PER_FILE_BYTE) + _FIXED_OVERHEAD


def release_freed() -> None:
    """Collect garbage and ask glibc to return free heap pages, so an unload shows in the container's usage."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
