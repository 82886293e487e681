"""A fresh cluster holds zero user objects, by the one rule set (dr_lib.archive.userobjects), against a
real API server: every object of every listable kind, and what ``k3s-dr backup`` records; one user
ConfigMap makes it one. If a Kubernetes release starts a cluster with an object the rules do not know,
this test names it (kind, namespace, name) and the rules get a row with its reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, create, isolated_env

from dr_lib.archive import read_sidecar, verify_archive
from dr_lib.archive.userobjects import not_user_reason
from dr_lib.kube.client import Kube
from dr_lib.kube.discovery import discover
from dr_lib.kube.listing import iter_pages

pytestmark = pytest.mark.slow

# One test per fresh cluster the factory starts. The supported Kubernetes versions are about to become a
# parameter of the cluster fixtures (another issue): add them here as pytest.param({"version": ...}, id=...).
FRESH_CLUSTERS = [pytest.param({}, id="default-version")]


@pytest.fixture(params=FRESH_CLUSTERS)
def fresh(request: pytest.FixtureRequest, cluster_factory: Any) -> Any:
    return cluster_factory(nodes=1, **request.param)


def live_user_objects(kube: Kube) -> tuple[list[str], dict[str, int]]:
    """Every user object live (as "resource namespace/name"), and how many objects of each kind were judged."""
    users: list[str] = []
    judged: dict[str, int] = {}
    for resource in discover(kube).resources:
        if not resource.has_verbs("list"):
            continue
        for page in iter_pages(kube, resource.type):
            for obj in page.items:
                judged[resource.name] = judged.get(resource.name, 0) + 1
                if not_user_reason(resource.name, obj) is None:
                    meta = obj.get("metadata") or {}
                    users.append(f"{resource.name} {meta.get('namespace', '')}/{meta.get('name')}")
    return users, judged


def backed_up_user_objects(kubeconfig: Path, directory: Path, tmp_path: Path, *scope: str) -> dict[str, int]:
    run = cli("backup", "--kubeconfig", kubeconfig, "--dir", directory, "--no-datastore", "--json", *scope,
              env=isolated_env(tmp_path))
    assert run.code == 0, run.stderr
    archive = Path(run.json["archive"])
    verified = verify_archive(archive)
    sidecar = read_sidecar(archive)
    assert sidecar is not None and sidecar.current_user_objects == verified.user_objects == run.json["user_objects"]
    assert verified.manifest.user_objects == verified.user_objects
    return {entry.resource: entry.user_objects or 0 for entry in verified.manifest.files if entry.user_objects}


def test_a_fresh_cluster_holds_zero_user_objects_and_one_configmap_makes_it_one(fresh: Any, tmp_path: Path) -> None:
    with Kube.from_kubeconfig(fresh.kubeconfig) as kube:
        users, judged = live_user_objects(kube)
        assert users == [], f"objects a fresh cluster made by itself that the rules count as the user's: {users}"
        assert sum(judged.values()) > 100 and judged.get("clusterroles.rbac.authorization.k8s.io", 0) > 50, judged
        for scope in ((), ("--all-resources",)):
            assert backed_up_user_objects(fresh.kubeconfig, tmp_path / f"b{len(scope)}", tmp_path, *scope) == {}

        create(kube, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "app-settings"},
                                                                "data": {"LOG_LEVEL": "info"}})
        users, _ = live_user_objects(kube)
        assert users == ["configmaps default/app-settings"]
        for scope in ((), ("--all-resources",)):
            counted = backed_up_user_objects(fresh.kubeconfig, tmp_path / f"c{len(scope)}", tmp_path, *scope)
            assert counted == {"configmaps": 1}
