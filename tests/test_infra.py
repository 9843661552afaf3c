"""The deployment files: valid against the Kubernetes and Compose schemas, probes in place, nothing as root, no
real secret committed, and every table placed in the Citus plan (whose command refuses a server without Citus).
Without a Docker engine or a cluster here, the schema checks stand in for `docker compose config` and
`kubectl apply --dry-run=server`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import kubernetes_validate
import pytest
import yaml

from service.db.citus import PLAN_FILE, DistributeError, distribute, load_plan
from tests.support import ROOT

INFRA = ROOT / "infra"


def manifests() -> list[dict]:
    docs = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


# A version every supported managed Kubernetes still runs; the manifests use only GA APIs.
KUBERNETES_VERSION = "1.30.0"


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_matches_the_kubernetes_schema(doc):
    # strict: an unknown or misspelt field (e.g. `readinesProbe`) fails instead of being ignored by the cluster.
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_broken_manifest():
    deployment = next(d for d in manifests() if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_compose_file_matches_the_compose_specification():
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [check, "--builtin-schema", "vendor.compose-spec", INFRA / "compose.yaml"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    # What the schema cannot see: every dependency and mounted file exists.
    for name, service in compose["services"].items():
        assert set(service.get("depends_on", {})) <= set(compose["services"]), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose.get("volumes", {}) or (INFRA / source).exists(), f"{name}: {source}"


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


CITUS_PLAN = re.compile(
    r"create_distributed_table\('(?P<distributed>\w+)', '(?P<column>\w+)'(?:, colocate_with => '(?P<colocate>\w+)')?"
    r"|create_reference_table\('(?P<reference>\w+)'\)"
    r"|citus_add_local_table_to_metadata\('(?P<local>\w+)'\)"
    r"|^-- pending: (?P<pending>\w+) (?P<pending_column>\w+)",
    re.MULTILINE,
)


async def test_every_table_has_its_place_in_the_citus_plan(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind IN ('r', 'p') AND NOT relispartition"
            )
        }
        not_null = {
            (r["table_name"], r["column_name"]): r["is_nullable"] == "NO"
            for r in await conn.fetch(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        }
    finally:
        await conn.close()
    plan = [m.groupdict() for m in CITUS_PLAN.finditer(PLAN_FILE.read_text())]
    named = [m["distributed"] or m["reference"] or m["local"] or m["pending"] for m in plan]
    assert sorted(named) == sorted(set(named)), "a table is named twice"
    assert set(named) == tables, f"unplaced: {sorted(tables - set(named))}, unknown: {sorted(set(named) - tables)}"
    for m in plan:
        if m["distributed"]:
            assert not_null.get((m["distributed"], m["column"])), f"{m['distributed']}.{m['column']} NOT NULL"
            if m["column"] == "community_id":  # a community's rows share its shard only when co-located
                assert m["colocate"] == "communities", f"{m['distributed']} co-located with communities"
        if m["pending"]:
            # Once the column exists, the table belongs among the distributed ones.
            assert (m["pending"], m["pending_column"]) not in not_null, f"{m['pending']} is no longer pending"
    if not any(m["pending"] for m in plan):  # what the distribute command reads is what was checked
        assert [p.table for p in load_plan()] == named


async def test_distribute_refuses_a_server_without_citus_and_changes_nothing(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        schema = "SELECT count(*), sum(hashtext(pg_get_constraintdef(oid))) FROM pg_constraint"
        before = await conn.fetchrow(schema)
        with pytest.raises(DistributeError, match="no Citus extension"):
            await distribute(conn)
        assert await conn.fetchrow(schema) == before
    finally:
        await conn.close()
    command = [sys.executable, "-m", "service", "distribute"]
    done = subprocess.run(command, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True)
    assert done.returncode == 1 and "runs only on a Citus coordinator" in done.stderr, done.stderr


def test_a_pending_table_stops_the_distribute_command():
    with pytest.raises(DistributeError, match="polls is still pending"):
        load_plan("SELECT create_reference_table('users');\n-- pending: polls community_id (migration 0099)\n")
