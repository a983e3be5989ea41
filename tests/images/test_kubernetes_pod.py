"""The rendered Kubernetes Deployment run on a real container runtime: ``podman kube play`` with the server image.

The volume overlay is rendered with kubectl, and only what a laptop is not a cluster changes (``podman_variant``):
the locally built image, a hostPath folder for the PersistentVolumeClaim, host ports for the container ports, one
replica, 1 CPU (so a 2-core machine has a quota to fit), and emptyDir names made unique (podman 4.3 turns each
emptyDir into a named volume of that name, shared machine-wide). Probes, security context, read-only root,
emptyDirs, environment and arguments are the manifest's own.

Podman 4.3 turns only the liveness probe into a healthcheck, which needs curl in the image and systemd timers to
run, and ignores startup and readiness probes; so the test probes as the kubelet does, from the probe specs,
through the published ports. ``podman kube down`` removes the pod with SIGKILL (4.3 has no grace), so the pod is
first stopped the kubelet's way: SIGTERM, up to terminationGracePeriodSeconds. The scrape annotations' target and the
gRPC health service that overlays/grpc-probes probes are asked through the published ports too.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ovserve.handler.codecs import tensor_proto
from ovserve.handler.protos import serving_apis_pb2 as apis
from tests.deploy.manifests import container_env, container_port, only, pod_spec, render, server_container
from tests.grpc_generated import serving_services_pb2_grpc as services
from tests.images import podman as pm
from tests.lambdaproc import free_ports
from tests.serverproc import REPO

pytestmark = [pytest.mark.images, pytest.mark.timeout(2400)]

EXAMPLE_MODEL = REPO / "examples" / "models" / "temperature"


def podman_variant(deployment: dict, image: str, models: Path, host_ports: dict[int, int], name: str) -> dict:
    """The rendered Deployment made runnable by ``podman kube play`` on this machine (see the module docstring)."""
    variant = copy.deepcopy(deployment)
    variant["metadata"]["name"] = name
    variant["spec"]["replicas"] = 1
    pod, container = pod_spec(variant), server_container(variant)
    container["image"] = image
    container["resources"] = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    for port in container["ports"]:
        port["hostPort"] = host_ports[port["containerPort"]]
    renamed = {}
    for volume in pod["volumes"]:
        if "persistentVolumeClaim" in volume:
            volume.pop("persistentVolumeClaim")
            volume["hostPath"] = {"path": str(models), "type": "Directory"}
        elif "emptyDir" in volume:
            renamed[volume["name"]] = volume["name"] = f"{name}-{volume['name']}"
    for mount in container["volumeMounts"]:
        mount["name"] = renamed.get(mount["name"], mount["name"])
    return variant


def model_folder(deployment: dict, scratch: Path) -> Path:
    """A folder laid out as the claim must be: the example model where the rendered OVSERVE_MODEL_PATH points."""
    container = server_container(deployment)
    claim = next(v["name"] for v in pod_spec(deployment)["volumes"] if "persistentVolumeClaim" in v)
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == claim)
    model_path = Path(container_env(container)["OVSERVE_MODEL_PATH"])
    root = scratch / "claim"
    shutil.copytree(EXAMPLE_MODEL, root / model_path.relative_to(mount))
    for folder, _, files in os.walk(root):  # the server runs as the manifest's non-root user
        os.chmod(folder, 0o755)
        for file in files:
            os.chmod(Path(folder) / file, 0o644)
    return root


@pytest.fixture
def played(images, tmp_path) -> Iterator[dict]:
    """The volume overlay's Deployment played as a pod; ``kube down`` at teardown, whatever the test did."""
    deployment = only(render("overlays/volume"), "Deployment")
    rest, grpc_port = free_ports(2)
    container = server_container(deployment)
    ports = {container_port(container, "http"): rest, container_port(container, "grpc"): grpc_port}
    name = f"ovserve-kube-{uuid.uuid4().hex[:8]}"
    variant = podman_variant(deployment, images["server"], model_folder(deployment, tmp_path), ports, name)
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(yaml.safe_dump(variant))
    pod_id = ""
    try:
        output = pm.podman("kube", "play", str(manifest), timeout=300).stdout.split()
        pod_id = output[output.index("Pod:") + 1]
        (ctr,) = pm.podman("ps", "-a", "--filter", f"pod={pod_id}", "--filter", f"name={name}", "--format", "{{.ID}}").stdout.split()
        yield {"manifest": manifest, "variant": variant, "pod": pod_id, "container": ctr, "ports": ports,
               "volumes": [v["name"] for v in pod_spec(variant)["volumes"] if "emptyDir" in v]}
    finally:
        pm.podman("kube", "down", str(manifest), check=False)
        if pod_id:
            pm.podman("pod", "rm", "-f", pod_id, check=False)


def probe(container: dict, spec: dict, ports: dict[int, int]) -> bool:
    """One kubelet-style HTTP probe: success is a status from 200 to 399 within the probe's timeout."""
    check = spec["httpGet"]
    url = f"http://127.0.0.1:{ports[container_port(container, check['port'])]}{check['path']}"
    try:
        return 200 <= httpx.get(url, timeout=spec.get("timeoutSeconds", 1)).status_code < 400
    except httpx.TransportError:
        return False


def wait_for_probe(played: dict, which: str, budget: float) -> float:
    """Seconds until ``which`` succeeds (polling faster than its period); fails with the pod's log after ``budget``."""
    container = server_container(played["variant"])
    spec, started = container[which], time.monotonic()
    while time.monotonic() - started < budget:
        if probe(container, spec, played["ports"]):
            return time.monotonic() - started
        state = pm.podman("inspect", played["container"], "--format", "{{.State.Status}}").stdout.strip()
        assert state == "running", pm.podman("logs", played["container"], check=False).stderr[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"{which} never passed: {pm.podman('logs', played['container'], check=False).stderr[-3000:]}")


def test_rendered_deployment_runs_under_podman_probes_pass_it_predicts_and_stops_cleanly(played):
    container = server_container(played["variant"])
    startup = container["startupProbe"]
    wait_for_probe(played, "startupProbe", startup.get("initialDelaySeconds", 0) + startup["periodSeconds"] * startup["failureThreshold"])
    wait_for_probe(played, "readinessProbe", 120)  # preloaded: ready means compiled
    assert probe(container, container["livenessProbe"], played["ports"])
    assert probe(container, container["startupProbe"], played["ports"])

    # The runtime applied the manifest's hardening and limits.
    inspected = "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}} {{.HostConfig.Memory}} {{.HostConfig.CpuQuota}}"
    read_only, user, memory, quota = pm.podman("inspect", played["container"], "--format", inspected).stdout.split()
    assert read_only == "true" and user.split(":")[0] == "1000"
    assert int(memory) == 2 << 30 and int(quota) == 100_000  # limits.cpu 1: one CFS period's worth

    name = container_env(container)["OVSERVE_MODEL_NAME"]
    rest = f"http://127.0.0.1:{played['ports'][container_port(container, 'http')]}"
    reply = httpx.post(f"{rest}/v1/models/{name}:predict", json={"instances": [0, 100]}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert [row["fahrenheit"] for row in reply.json()["predictions"]] == pytest.approx([32.0, 212.0], rel=1e-2)
    request = apis.PredictRequest()
    request.model_spec.name = name
    tensor_proto.fill(request.inputs["celsius"], np.array([-40, 37], dtype=np.float32))
    with grpc.insecure_channel(f"127.0.0.1:{played['ports'][container_port(container, 'grpc')]}") as channel:
        response = services.PredictionServiceStub(channel).Predict(request, timeout=30)
    assert tensor_proto.to_array("kelvin", response.outputs["kelvin"]) == pytest.approx([233.15, 310.15], rel=1e-2)

    # Observable as the manifests promise: Prometheus' scrape target, and the gRPC health service the
    # grpc-probes overlay's readiness probe asks (podman cannot run gRPC probes itself).
    annotations = played["variant"]["spec"]["template"]["metadata"]["annotations"]
    scrape = f"http://127.0.0.1:{played['ports'][int(annotations['prometheus.io/port'])]}{annotations['prometheus.io/path']}"
    metrics = httpx.get(scrape, timeout=10)
    assert metrics.status_code == 200 and 'ovms_requests_success{api="TensorFlowServing"' in metrics.text, metrics.text[:2000]
    readiness = only(render("overlays/grpc-probes"), "Deployment")
    grpc_probe = server_container(readiness)["readinessProbe"]["grpc"]
    with grpc.insecure_channel(f"127.0.0.1:{played['ports'][grpc_probe['port']]}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=grpc_probe["service"]), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    # Every write landed on an emptyDir: the compiled model is in the cache, nothing failed for a read-only root.
    cached = pm.podman("exec", played["container"], "python", "-c", "import os; print(len(os.listdir('/opt/ovserve/cache')))")
    assert int(cached.stdout) > 0
    logs = pm.podman("logs", played["container"]).stderr
    assert "Read-only file system" not in logs and "openvino_telemetry" not in logs, logs[-3000:]
    if len(os.sched_getaffinity(0)) > 1:  # a quota below the CPUs there are: OpenVINO's threads fit it
        assert '"inference_num_threads": 1' in logs and '"cpu_quota_cores": 1.0' in logs, logs[-3000:]

    # Stopped as the kubelet stops a pod (SIGTERM, then the grace period), it drains and exits 0.
    grace = pod_spec(played["variant"])["terminationGracePeriodSeconds"]
    started = time.monotonic()
    pm.podman("pod", "stop", "-t", str(grace), played["pod"], timeout=grace + 30)
    assert time.monotonic() - started < grace
    assert pm.podman("inspect", played["container"], "--format", "{{.State.ExitCode}}").stdout.strip() == "0"
    assert '"msg": "stopped"' in pm.podman("logs", played["container"]).stderr

    pm.podman("kube", "down", str(played["manifest"]))
    assert pm.podman("pod", "exists", played["pod"], check=False).returncode == 1
    assert pm.podman("container", "exists", played["container"], check=False).returncode == 1
    for volume in played["volumes"]:  # the emptyDirs go with the pod
        assert pm.podman("volume", "exists", volume, check=False).returncode == 1, volume
