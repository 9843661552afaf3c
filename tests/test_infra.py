"""The deployment files: parseable, probes in place, nothing as root, no real secret committed."""

from __future__ import annotations

import yaml

from tests.support import ROOT

INFRA = ROOT / "infra"


def manifests() -> list[dict]:
    docs = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def test_every_manifest_has_the_basic_shape():
    docs = manifests()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ConfigMap", "Secret", "Job", "Ingress"}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc


def test_deployments_probe_health_and_run_unprivileged():
    deployments = {d["metadata"]["name"]: d for d in manifests() if d["kind"] == "Deployment"}
    assert set(deployments) == {"community-api", "community-worker"}
    api = deployments["community-api"]["spec"]["template"]["spec"]
    container = api["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployments["community-api"]["spec"]["replicas"] >= 2
    for deployment in deployments.values():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for c in spec["containers"]:
            assert {"configMapRef": {"name": "community-config"}} in c["envFrom"]
            assert {"secretRef": {"name": "community-secrets"}} in c["envFrom"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_no_real_secret_is_committed():
    secret = next(d for d in manifests() if d["kind"] == "Secret")
    assert all("CHANGE_ME" in value for value in secret["stringData"].values())
    env_example = (INFRA / ".env.example").read_text()
    assert "change-me" in env_example


def test_compose_runs_two_api_replicas_a_worker_a_database_and_a_proxy():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "api", "worker", "proxy"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"][-1] == "worker"
    assert services["migrate"]["command"][-1] == "migrate"
    assert services["api"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}


def test_image_is_multi_stage_non_root_with_a_health_check():
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile
