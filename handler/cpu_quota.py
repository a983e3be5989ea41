"""OpenVINO's CPU threads sized to the container's CPU quota (Kubernetes ``limits.cpu``, ``podman run --cpus``).

OpenVINO 2026.4 sizes streams and threads from the CPUs the process may run on (its affinity mask) and never reads
the cgroup's CFS quota (its libraries name no cgroup file). Under ``--cpus 1`` on two cores it still compiles
2 threads (LATENCY) or 2 streams (THROUGHPUT): the threads spend the quota early in each 100 ms period and then
all wait, throttled, for the next one (measured: throttled in every period, p99 latency 2.5 times as long).
So, when the quota allows fewer cores than the affinity mask holds, a CPU model is compiled with
``INFERENCE_NUM_THREADS`` set to the quota in whole cores (at least 1), and OpenVINO derives streams and infer
requests from that. ``plugin_config`` setting ``INFERENCE_NUM_THREADS`` or ``NUM_STREAMS`` wins.

The quota is the tightest ``cpu.max`` (cgroup v2) or ``cpu.cfs_quota_us / cpu.cfs_period_us`` (v1) on the
process's cgroup and its ancestors, found through /proc/self/cgroup and /proc/self/mountinfo, so it works with
and without a cgroup namespace. It is read once per process, on the first compile. Measured figures: README,
"CPU limits".
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

log = logging.getLogger("ovserve.cpu_quota")

# Properties through which the user already chose OpenVINO's threading: left alone.
USER_THREADING_KEYS = ("INFERENCE_NUM_THREADS", "NUM_STREAMS")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes (``\\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _cgroup_mounts(mountinfo: str) -> Iterator[tuple[str, str, str, set[str]]]:
    """(file system type, root inside the hierarchy, mount point, super options) of each cgroup mount."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if len(fields) < dash + 4 or dash < 5:
            continue
        fstype = fields[dash + 1]
        if fstype in ("cgroup", "cgroup2"):
            yield fstype, _unescape(fields[3]), _unescape(fields[4]), set(fields[dash + 3].split(","))


def _cgroup_paths(cgroup: str) -> tuple[str | None, str | None]:
    """The process's cgroup v2 path and its v1 ``cpu`` controller path, from /proc/self/cgroup."""
    unified = cpu = None
    for line in cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            unified = path
        elif "cpu" in controllers.split(","):
            cpu = path
    return unified, cpu


def _levels(root: Path, mount_root: str, mount_point: str, path: str) -> Iterator[Path]:
    """The cgroup's folder and each ancestor up to the mount point.

    The path in /proc/self/cgroup is relative to the hierarchy's root; the mount shows ``mount_root`` of it. When
    the path lies outside what is mounted (a container without a cgroup namespace sees the host's path), the
    mount point itself is the container's cgroup.
    """
    top = root / mount_point.lstrip("/")
    cgroup, mounted = PurePosixPath(path), PurePosixPath(mount_root)
    inside = cgroup.is_relative_to(mounted) and ".." not in cgroup.parts
    folder = top / cgroup.relative_to(mounted) if inside else top
    while folder != top:
        yield folder
        folder = folder.parent
    yield top


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _v2_cores(folder: Path) -> float | None:
    """``cpu.max`` is "max 100000" (no quota) or "<quota> <period>" in microseconds."""
    text = _read(folder / "cpu.max")
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_cores(folder: Path) -> float | None:
    """``cpu.cfs_quota_us`` is -1 without a quota."""
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        quota_us, period_us = int(quota or ""), int(period or "")
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def quota_cores(proc: Path = Path("/proc/self"), root: Path = Path("/")) -> float | None:
    """The CPU time the process's cgroups allow, in cores (1.5 = 150 ms per 100 ms); None without a quota.

    ``proc`` and ``root`` point elsewhere in tests (fake /proc/self and cgroup files under a folder).
    """
    mountinfo, cgroup = _read(proc / "mountinfo"), _read(proc / "cgroup")
    if not mountinfo or not cgroup:
        return None
    unified, cpu = _cgroup_paths(cgroup)
    found: list[float] = []
    for fstype, mount_root, mount_point, options in _cgroup_mounts(mountinfo):
        if fstype == "cgroup2" and unified is not None:
            path, reader = unified, _v2_cores
        elif fstype == "cgroup" and cpu is not None and "cpu" in options:
            path, reader = cpu, _v1_cores
        else:
            continue
        found += [cores for level in _levels(root, mount_root, mount_point, path) if (cores := reader(level)) is not None]
    return min(found) if found else None


def threads_for_quota(quota: float | None, cpus: int) -> int | None:
    """Inference threads for a quota of ``quota`` cores on ``cpus`` usable CPUs; None when the quota does not bind.

    Rounded to the nearest whole core, at least 1. Measured on 2 cores (MobileNet-shaped model, raw OpenVINO):
    under 1 core, 2 threads infer no more than 1 (99 against 111 a second) and are throttled in every period,
    p99 62 ms against 25 ms; under 1.5 cores, 2 threads infer a third more than 1 (147 against 111), so half a
    core or more is worth its thread.
    """
    if quota is None:
        return None
    threads = max(1, math.floor(quota + 0.5))
    return threads if threads < cpus else None


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@functools.cache
def _quota_threads() -> int | None:
    """The thread count the quota calls for, decided once per process (and logged once when it binds)."""
    quota, cpus = quota_cores(), _usable_cpus()
    threads = threads_for_quota(quota, cpus)
    if threads is not None:
        log.info("OpenVINO threads fitted to the CPU quota", extra={
            "cpu_quota_cores": round(quota or 0, 3), "cpus": cpus, "inference_num_threads": threads})
    return threads


def fit_to_cpu_quota(properties: Mapping[str, object], device: str, threads: int | None = None) -> dict[str, object]:
    """``properties`` for ``compile_model``, with ``INFERENCE_NUM_THREADS`` fitted to the CPU quota when it binds.

    Only for the CPU device (other devices do not take the property), and never over a threading choice the
    user made in ``plugin_config``. ``threads``: the quota's thread count (tests); read from the cgroup otherwise.
    """
    fitted = dict(properties)
    if device.strip().upper() != "CPU" or any(key in fitted for key in USER_THREADING_KEYS):
        return fitted
    wanted = threads if threads is not None else _quota_threads()
    if wanted is not None:
        fitted["INFERENCE_NUM_THREADS"] = wanted
    return fitted
