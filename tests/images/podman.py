"""Building and running the project's real container images with podman, on a machine with no Docker engine.

* Tools: podman, buildah, runc and debootstrap, installed from Debian when missing.
* Engine settings: a containers.conf written here (runc, cgroupfs, file events; explicit nofile/nproc limits, because
  the sandbox lacks CAP_SYS_RESOURCE and podman's defaults ask for more than the process may set).
* Base image: the Dockerfiles start ``FROM python:3.11-slim-bookworm``. No registry is used: a stand-in is built with
  ``debootstrap --variant=minbase bookworm`` plus Debian's python3, venv, pip and CA certificates (the host's extra CAs
  included, so pip works behind an intercepting proxy), with a venv at /usr/local so /usr/local/bin/python and pip sit
  where the official image has them, and imported under that exact name. Podman resolves the short name locally.
  It is kept in podman's storage between runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
TOOLS = {"podman": "podman", "buildah": "buildah", "runc": "runc", "debootstrap": "debootstrap"}
_CONF_DIR = Path(tempfile.gettempdir()) / "ovserve-podman"


class PodmanUnavailable(RuntimeError):
    """This machine cannot build or run the images; the message says what is missing."""


def _missing() -> list[str]:
    return [package for tool, package in TOOLS.items() if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]


def ensure_tools() -> None:
    """Install what is missing from Debian (needs root and the Debian mirror)."""
    missing = _missing()
    if not missing:
        return
    if os.geteuid() != 0:
        raise PodmanUnavailable(f"{missing} are not installed and installing them needs root (apt-get install {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise PodmanUnavailable(f"`{' '.join(command)}` failed: {done.stderr[-1500:]}")
    still = _missing()
    if still:
        raise PodmanUnavailable(f"{still} still missing after apt-get install")


def limits() -> list[str]:
    """``--ulimit`` flags the sandbox allows: open files at the current hard limit, processes at 4096."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = hard if hard != resource.RLIM_INFINITY else 65536
    return ["--ulimit", f"nofile={files}:{files}", "--ulimit", "nproc=4096:4096"]


def environment() -> dict[str, str]:
    """The environment every podman call runs with: our containers.conf."""
    _CONF_DIR.mkdir(parents=True, exist_ok=True)
    conf = _CONF_DIR / "containers.conf"
    values = [flag for flag in limits() if flag != "--ulimit"]
    conf.write_text(
        "[containers]\n"
        f"default_ulimits = {json.dumps(values)}\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], env=environment(), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise PodmanUnavailable(f"`podman {' '.join(args[:3])} …` failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def debian_mirror() -> str:
    """The Debian mirror apt uses here (debootstrap does not read apt's sources by itself)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line and len(line.split()) > 1:
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.is_file():
        for line in listing.read_text().splitlines():
            urls = [part for part in line.split()[1:] if part.startswith(("http://", "https://"))]
            if line.startswith("deb ") and urls and "security" not in urls[0]:
                return urls[0]
    return "http://deb.debian.org/debian"


def ensure_base_image() -> None:
    """The stand-in for python:3.11-slim-bookworm, built once and then reused from podman's storage."""
    exists = podman("image", "exists", BASE_IMAGE, check=False)
    if exists.returncode == 0:
        return
    if "level=error" in exists.stderr or "Error:" in exists.stderr:  # not "absent" but podman itself failing
        raise PodmanUnavailable(f"podman cannot read its image storage: {exists.stderr[-1500:]}")
    with tempfile.TemporaryDirectory(prefix="ovserve-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
             "bookworm", str(rootfs), debian_mirror()], capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise PodmanUnavailable(f"debootstrap failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
        extra_cas = Path("/usr/local/share/ca-certificates")
        if extra_cas.is_dir():
            for certificate in extra_cas.glob("*.crt"):
                shutil.copy2(certificate, rootfs / "usr/local/share/ca-certificates" / certificate.name)
        for command in (["update-ca-certificates"], ["/usr/bin/python3", "-m", "venv", "/usr/local"]):
            subprocess.run(["chroot", str(rootfs), *command], check=True, capture_output=True, timeout=300)
        (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]', "-", BASE_IMAGE],
            stdin=tar.stdout, env=environment(), capture_output=True, text=True, timeout=600)
        tar.stdout.close()  # so tar gets SIGPIPE instead of blocking if the import stopped reading
        tar.wait()
        if imported.returncode != 0:
            raise PodmanUnavailable(f"podman import failed: {imported.stderr[-1500:]}")


def build(dockerfile: Path, tag: str, context: Path) -> None:
    """``podman build`` as CI can run it: chroot isolation, host network, never pulling."""
    podman("build", "--isolation=chroot", "--network=host", "--pull=never", *limits(), "-f", str(dockerfile), "-t", tag,
           str(context), timeout=1800)


def image_size_mb(tag: str) -> float:
    return int(podman("image", "inspect", tag, "--format", "{{.Size}}").stdout.strip()) / 1e6
