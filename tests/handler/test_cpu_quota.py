"""The CPU quota as the kernel shows it (fake /proc/self and cgroup files, v1 and v2), and what it does to OpenVINO."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovserve.handler.cpu_quota import fit_to_cpu_quota, quota_cores, threads_for_quota
from ovserve.handler.runtime import get_core
from tests import models

V2_MOUNT = "30 25 0:26 {root} /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MOUNT = "40 35 0:{n} {root} /sys/fs/cgroup/{point} ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,{options}\n"
OTHER_MOUNTS = "22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/l\n24 22 0:23 / /proc rw - proc proc rw\n"


def fake(tmp_path: Path, cgroup: str, mountinfo: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A /proc/self and a file system root holding ``files`` (paths relative to the root)."""
    proc, root = tmp_path / "proc-self", tmp_path / "root"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(OTHER_MOUNTS + mountinfo)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return proc, root


def test_cgroup_v2_in_a_cgroup_namespace_reads_cpu_max_at_the_mount(tmp_path):
    proc, root = fake(tmp_path, "0::/\n", V2_MOUNT.format(root="/"), {"sys/fs/cgroup/cpu.max": "150000 100000"})
    assert quota_cores(proc, root) == 1.5


def test_cgroup_v2_without_a_quota_is_none(tmp_path):
    proc, root = fake(tmp_path, "0::/\n", V2_MOUNT.format(root="/"), {"sys/fs/cgroup/cpu.max": "max 100000"})
    assert quota_cores(proc, root) is None


def test_cgroup_v2_takes_the_tightest_quota_of_the_container_and_its_pod(tmp_path):
    pod = "sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice"
    files = {f"{pod}/cpu.max": "100000 100000", f"{pod}/cri-containerd-abc.scope/cpu.max": "max 100000",
             "sys/fs/cgroup/kubepods.slice/cpu.max": "max 100000"}
    proc, root = fake(tmp_path, "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n",
                      V2_MOUNT.format(root="/"), files)
    assert quota_cores(proc, root) == 1.0
    (root / pod / "cri-containerd-abc.scope/cpu.max").write_text("50000 100000\n")
    assert quota_cores(proc, root) == 0.5


def test_cgroup_v1_as_podman_shows_it_without_a_namespace(tmp_path):
    """The path in /proc/self/cgroup is the host's; the mount's root is that same cgroup, so the mount point is it."""
    path = "/libpod_parent/libpod-0123"
    cgroup = f"9:name=systemd:{path}\n2:cpuacct:{path}\n1:cpu:{path}\n0::{path}\n"
    mounts = (V1_MOUNT.format(n=30, root=path, point="cpu", options="cpu")
              + V1_MOUNT.format(n=31, root=path, point="cpuacct", options="cpuacct"))
    files = {"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
             "sys/fs/cgroup/cpuacct/cpu.cfs_quota_us": "5000"}  # not the cpu controller: never read
    proc, root = fake(tmp_path, cgroup, mounts, files)
    assert quota_cores(proc, root) == 1.0


def test_cgroup_v1_joint_cpu_cpuacct_controller_without_a_quota_is_none(tmp_path):
    mounts = V1_MOUNT.format(n=30, root="/", point="cpu,cpuacct", options="cpu,cpuacct")
    files = {"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "-1",
             "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"}
    proc, root = fake(tmp_path, "4:cpu,cpuacct:/docker/abc\n", mounts, files)
    assert quota_cores(proc, root) is None
    (root / "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us").write_text("250000\n")
    assert quota_cores(proc, root) == 2.5


def test_hybrid_hierarchy_uses_the_v1_cpu_controller_when_v2_has_no_cpu_files(tmp_path):
    mounts = (V1_MOUNT.format(n=30, root="/", point="cpu", options="cpu")
              + "31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    files = {"sys/fs/cgroup/cpu/a/cpu.cfs_quota_us": "50000", "sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000"}
    proc, root = fake(tmp_path, "1:cpu:/a\n0::/a\n", mounts, files)
    assert quota_cores(proc, root) == 0.5


def test_mount_points_with_escaped_spaces_are_found(tmp_path):
    mounts = "30 25 0:26 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n"
    proc, root = fake(tmp_path, "0::/\n", mounts, {"sys/fs/cgroup x/cpu.max": "200000 100000"})
    assert quota_cores(proc, root) == 2.0


@pytest.mark.parametrize("text", ["", "garbage", "100000", "abc 100000", "0 100000", "100000 0"])
def test_unreadable_or_meaningless_cpu_max_is_no_quota(tmp_path, text):
    proc, root = fake(tmp_path, "0::/\n", V2_MOUNT.format(root="/"), {"sys/fs/cgroup/cpu.max": text})
    assert quota_cores(proc, root) is None


def test_no_proc_files_is_no_quota(tmp_path):
    assert quota_cores(tmp_path / "missing", tmp_path) is None


def test_a_cgroup_path_escaping_the_mount_reads_the_mount_point_alone(tmp_path):
    files = {"sys/fs/cgroup/cpu.max": "100000 100000", "cpu.max": "1000 100000"}
    proc, root = fake(tmp_path, "0::/../..\n", V2_MOUNT.format(root="/"), files)
    assert quota_cores(proc, root) == 1.0


@pytest.mark.parametrize(("quota", "cpus", "threads"), [
    (None, 8, None),   # no quota
    (1.0, 2, 1),
    (0.3, 2, 1),       # at least one thread
    (1.4, 4, 1),       # less than half a core more: not worth a thread
    (1.5, 4, 2),
    (1.5, 2, None),    # rounds to every CPU there is: OpenVINO's own choice already
    (2.0, 2, None),
    (3.0, 8, 3),
])
def test_threads_follow_the_quota_rounded_to_whole_cores(quota, cpus, threads):
    assert threads_for_quota(quota, cpus) == threads


def test_fit_adds_threads_for_the_cpu_device_only():
    given = {"PERFORMANCE_HINT": "THROUGHPUT"}
    assert fit_to_cpu_quota(given, "CPU", threads=1) == {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": 1}
    assert fit_to_cpu_quota(given, " cpu ", threads=1)["INFERENCE_NUM_THREADS"] == 1
    assert fit_to_cpu_quota(given, "GPU", threads=1) == given
    assert fit_to_cpu_quota(given, "AUTO", threads=1) == given
    assert given == {"PERFORMANCE_HINT": "THROUGHPUT"}  # the model's own settings are never changed


@pytest.mark.parametrize("user", [{"INFERENCE_NUM_THREADS": 2}, {"NUM_STREAMS": 3}])
def test_threading_the_user_chose_wins(user):
    assert fit_to_cpu_quota(user, "CPU", threads=1) == user


def test_openvino_compiles_with_the_fitted_threads_and_derives_streams_from_them():
    """A THROUGHPUT model on a 1-core quota: one thread, so one stream and one infer request (not one per core)."""
    core = get_core()
    properties = fit_to_cpu_quota({"PERFORMANCE_HINT": "THROUGHPUT", **models.F32}, "CPU", threads=1)
    compiled = core.compile_model(models.add_one(), "CPU", properties)
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    assert int(compiled.get_property("NUM_STREAMS")) == 1
    assert int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) == 1
