"""deploy/kubernetes: every kustomization renders, every object is valid, and the pieces agree with each other and with
ovserve's own flags (probes on the health endpoints, grace period over the shutdown timeout, a read-only root with an
emptyDir under every path the server writes, selectors, ports, scrape annotations, the KServe runtime's arguments).

Kubernetes objects are validated with kubernetes-validate (strict: unknown fields fail) against the oldest Kubernetes
these manifests support and the newest schema it ships; KServe's kinds against schemas written from its CRDs
(kserve_schemas.py). The manifests are also run for real: tests/images/test_kubernetes_pod.py.
"""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest

from ovserve.handler.settings.server import ServerSettings, load_settings
from tests.deploy import kserve_schemas
from tests.deploy.manifests import (
    KUSTOMIZATIONS,
    SERVER_OVERLAYS,
    container_env,
    container_port,
    image_env,
    only,
    pod_spec,
    render,
    server_container,
)

# gRPC probes are GA from 1.27, autoscaling/v2 from 1.23, policy/v1 from 1.21: 1.30 is the oldest still supported
# by the big managed offerings when this was written.
OLDEST_KUBERNETES = "1.30"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
KSERVE_KINDS = {"ServingRuntime", "InferenceService"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {folder: render(folder) for folder in KUSTOMIZATIONS}


def deployment_settings(deployment: dict) -> ServerSettings:
    """What the server would run with: the container's arguments and environment through ovserve's own parser."""
    container = server_container(deployment)
    return load_settings(container.get("args", []), container_env(container))


def test_every_kustomization_renders_what_it_should(rendered):
    server = {"ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    for folder in ("base", *SERVER_OVERLAYS):
        kinds = {item["kind"] for item in rendered[folder]}
        assert kinds - {"PersistentVolumeClaim"} == server, folder
    assert "PersistentVolumeClaim" in {item["kind"] for item in rendered["overlays/volume"]}
    assert {item["kind"] for item in rendered["kserve"]} == KSERVE_KINDS


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("folder", KUSTOMIZATIONS)
def test_every_object_is_valid_for_kubernetes(rendered, folder, version):
    for item in rendered[folder]:
        if item["kind"] in KSERVE_KINDS:
            kserve_schemas.validate(item, version)
        else:
            kubernetes_validate.validate(item, version, strict=True)


def test_validation_would_catch_a_misspelt_field(rendered):
    """The check above can fail: strict schemas refuse fields Kubernetes does not know, in core and KServe kinds."""
    deployment = copy.deepcopy(only(rendered["overlays/volume"], "Deployment"))
    server_container(deployment)["readinesProbe"] = {"httpGet": {"path": "/v2/health/ready", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, OLDEST_KUBERNETES, strict=True)
    service = copy.deepcopy(only(rendered["kserve"], "InferenceService"))
    service["spec"]["predictor"]["model"]["storageURI"] = service["spec"]["predictor"]["model"].pop("storageUri")
    with pytest.raises(Exception, match="storageURI"):
        kserve_schemas.validate(service, OLDEST_KUBERNETES)


@pytest.mark.parametrize("folder", ("overlays/s3", "overlays/volume"))
def test_probes_ask_the_health_endpoints_on_the_rest_port(rendered, folder):
    deployment = only(rendered[folder], "Deployment")
    container, settings = server_container(deployment), deployment_settings(deployment)
    expected = {"startupProbe": "/v2/health/live", "livenessProbe": "/v2/health/live", "readinessProbe": "/v2/health/ready"}
    for probe, path in expected.items():
        check = container[probe]["httpGet"]
        assert check["path"] == path, probe
        assert container_port(container, check["port"]) == settings.rest_port, probe
    # Enough start-up time under a low CPU quota, and readiness that reacts within seconds.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30
    assert container["readinessProbe"]["periodSeconds"] <= 10


def test_grpc_probe_overlay_asks_grpc_health_for_the_whole_server_on_the_grpc_port(rendered):
    deployment = only(rendered["overlays/grpc-probes"], "Deployment")
    container, settings = server_container(deployment), deployment_settings_without_model(deployment)
    assert container["readinessProbe"]["grpc"] == {"port": settings.port, "service": ""}
    for probe in ("startupProbe", "livenessProbe"):  # these must not follow readiness: a TCP connect
        assert container_port(container, container[probe]["tcpSocket"]["port"]) == settings.port
        assert "httpGet" not in container[probe] and "grpc" not in container[probe]


def deployment_settings_without_model(deployment: dict) -> ServerSettings:
    """The base names no model (an overlay does): parse its flags with a stand-in model."""
    container = server_container(deployment)
    env = {"OVSERVE_MODEL_NAME": "m", "OVSERVE_MODEL_PATH": "/models/m", **container_env(container)}
    return load_settings(container.get("args", []), env)


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_grace_period_covers_the_pre_stop_pause_and_the_shutdown_timeout(rendered, folder):
    deployment = only(rendered[folder], "Deployment")
    settings = deployment_settings_without_model(deployment)
    pause = server_container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert grace >= int(pause[1]) + settings.shutdown_timeout_seconds + 5


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_runs_as_non_root_on_a_read_only_root_with_every_write_path_on_an_emptydir(rendered, folder):
    deployment = only(rendered[folder], "Deployment")
    pod, container = pod_spec(deployment), server_container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # The paths the server writes: the image's caches (or the flags that move them), HOME and the temp dir.
    image, env = image_env(), {**image_env(), **container_env(container)}
    writes = {env["OVSERVE_CACHE_DIR"], env["OVSERVE_STORAGE_CACHE_DIR"], env.get("HOME", "/"), "/tmp"}
    assert image["OVSERVE_CACHE_DIR"] and image["OVSERVE_STORAGE_CACHE_DIR"]
    empty_dirs = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
    mounted = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"] if not mount.get("readOnly")}
    for path in writes:
        assert mounted.get(path) in empty_dirs, f"{path} is written by the server but is not an emptyDir mount"
        assert "sizeLimit" in next(v["emptyDir"] for v in pod["volumes"] if v["name"] == mounted[path])


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_resources_are_requested_and_limited(rendered, folder):
    resources = server_container(only(rendered[folder], "Deployment"))["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) >= {"cpu", "memory"}, kind
    assert resources["requests"] == resources["limits"]  # Guaranteed QoS: OpenVINO's threads fit a quota it keeps


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_prometheus_scrapes_metrics_on_the_rest_port(rendered, folder):
    deployment = only(rendered[folder], "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    settings = deployment_settings_without_model(deployment)
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == settings.rest_port
    assert container_env(server_container(deployment))["OVSERVE_METRICS_ENABLE"] == "true"


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_selectors_of_every_object_pick_the_deployment_pods(rendered, folder):
    objects = rendered[folder]
    deployment = only(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict) -> bool:
        return bool(selector) and all(pod_labels.get(key) == value for key, value in selector.items())

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(only(objects, "Service")["spec"]["selector"])
    assert selects(only(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    target = only(objects, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    assert only(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2  # so the budget lets one go at a time
    assert pod_spec(deployment)["serviceAccountName"] == only(objects, "ServiceAccount")["metadata"]["name"]


@pytest.mark.parametrize("folder", ("base", *SERVER_OVERLAYS))
def test_service_ports_reach_the_servers_rest_and_grpc_ports(rendered, folder):
    deployment = only(rendered[folder], "Deployment")
    container, settings = server_container(deployment), deployment_settings_without_model(deployment)
    ports = {port["name"]: container_port(container, port["targetPort"]) for port in only(rendered[folder], "Service")["spec"]["ports"]}
    assert ports == {"http": settings.rest_port, "grpc": settings.port}


@pytest.mark.parametrize("folder", ("overlays/s3", "overlays/volume"))
def test_overlay_flags_and_environment_are_valid_ovserve_settings(rendered, folder):
    settings = deployment_settings(only(rendered[folder], "Deployment"))
    (model,) = settings.models
    assert model.preload is True  # readiness then means compiled
    assert settings.shutdown_timeout_seconds > 0


def test_s3_overlay_reads_the_bucket_with_the_pods_iam_role(rendered):
    objects = rendered["overlays/s3"]
    account = only(objects, "ServiceAccount")
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    deployment = only(objects, "Deployment")
    (model,) = deployment_settings(deployment).models
    assert model.base_path.startswith("s3://")
    env = container_env(server_container(deployment))
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)  # credentials come from the role, never the manifest
    assert int(env["OVSERVE_FILE_SYSTEM_POLL_WAIT_SECONDS"]) >= 30  # a bucket listed every second per pod costs money


def test_volume_overlay_serves_the_model_from_the_claim_read_only(rendered):
    objects = rendered["overlays/volume"]
    claim = only(objects, "PersistentVolumeClaim")
    deployment = only(objects, "Deployment")
    pod, container = pod_spec(deployment), server_container(deployment)
    volume = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True and volume["persistentVolumeClaim"]["readOnly"] is True
    (model,) = deployment_settings(deployment).models
    assert model.base_path.startswith(mount["mountPath"].rstrip("/") + "/")


def test_kserve_runtime_starts_ovserve_with_flags_that_match_its_ports_and_probes(rendered):
    runtime = only(rendered["kserve"], "ServingRuntime")
    (container,) = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container"
    args = container["args"]
    assert "--model_name={{.Name}}" in args and "--model_path=/mnt/models" in args  # KServe's template and mount
    settings = load_settings([arg.replace("{{.Name}}", "temperature") for arg in args], container_env(container))
    assert settings.rest_port == 8080  # KServe's default HTTP port
    assert [port["containerPort"] for port in container["ports"]] == [settings.rest_port]
    for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
        assert container[probe]["httpGet"] == {"path": path, "port": settings.rest_port}
    assert settings.file_system_poll_wait_seconds == 0  # the storage initializer writes /mnt/models once
    assert int(runtime["spec"]["annotations"]["prometheus.kserve.io/port"]) == settings.rest_port
    assert {"v2", "grpc-v2"} <= set(runtime["spec"]["protocolVersions"])


def test_kserve_inference_service_uses_the_runtime_over_the_v2_protocol(rendered):
    runtime = only(rendered["kserve"], "ServingRuntime")
    model = only(rendered["kserve"], "InferenceService")["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["protocolVersion"] == "v2" and model["protocolVersion"] in runtime["spec"]["protocolVersions"]
    formats = {(f["name"], f.get("version")) for f in runtime["spec"]["supportedModelFormats"]}
    assert (model["modelFormat"]["name"], model["modelFormat"].get("version")) in formats
    assert re.match(r"(s3|gs|https?|pvc)://", model["storageUri"])
