"""A backup taken on the oldest supported Kubernetes restores onto the newest: the upgrade-by-restore
an operator does when the old cluster is gone. Two real clusters of different releases, a real
archive across, then the same checks as the same-version restore: every object back and equal
after sanitizing (``diff`` exits 0), pods Ready, the claim Bound, generated values made anew.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from restore_cli import run_process, write_config
from restore_snapshot import snapshot
from restore_workloads import create_workloads, wait_settled

from dr_lib.archive import read_manifest
from dr_lib.kube.client import Kube
from dr_lib.kube.writing import Writer
from dr_lib.restore.diff import diff_archive
from dr_lib.restore.plan import PlanOptions
from k3s_dr_testbed.clusters import versions

pytestmark = pytest.mark.slow


def test_backup_on_the_oldest_release_restores_onto_the_newest(cluster_factory: Any, tmp_path: Path) -> None:
    old, new = versions.oldest(), versions.newest()
    assert old != new, "one supported release only: nothing crosses"
    source = cluster_factory(nodes=2, kubernetes_version=old.minor)
    target = cluster_factory(nodes=2, kubernetes_version=new.minor)
    assert (source.kubernetes_version, target.kubernetes_version) == (old.kubernetes, new.kubernetes)
    with Kube.from_kubeconfig(source.kubeconfig) as kube:
        create_workloads(kube)
        wait_settled(kube)
        archive = snapshot(source.kubeconfig, tmp_path / "backups", kube)
    assert read_manifest(archive).cluster.kubernetes_version == old.kubernetes

    config = write_config(tmp_path / "config")
    restored = run_process(config, "restore", str(archive), "--kubeconfig", str(target.kubeconfig), "--json", "--wait")
    assert restored.code == 0, restored.stderr
    result = restored.json()
    assert result["complete"] is True and result["counts"]["failed"] == 0 and result["counts"]["created"] >= 35
    assert result["wait"]["ready"] is True

    with Kube.from_kubeconfig(target.kubeconfig) as kube:
        assert kube.get("/version")["gitVersion"] == new.kubernetes
        report = diff_archive(archive, Writer(kube), PlanOptions())
        assert report.counts["missing"] == 0, [o.name for o in report.objects if o.state == "missing"]
        assert report.counts["differs"] == 0, [(o.name, o.differences) for o in report.objects if o.state == "differs"]
        assert report.counts["same"] == result["planned"]
        claim = kube.get("/api/v1/namespaces/data/persistentvolumeclaims/db")
        assert claim["status"]["phase"] == "Bound"
        assert kube.get("/api/v1/namespaces/shop/secrets/builder-token")["data"].get("token")
        assert kube.get("/apis/example.com/v1/namespaces/shop/widgets/blue")["spec"] == {"size": 3}
        old_uid = read_manifest(archive).cluster.kube_system_uid
        assert kube.get("/api/v1/namespaces/kube-system")["metadata"]["uid"] != old_uid  # another cluster indeed

    same = run_process(config, "diff", str(archive), "--kubeconfig", str(target.kubeconfig), "--json")
    assert same.code == 0, same.stdout + same.stderr
    assert same.json()["counts"]["missing"] == same.json()["counts"]["differs"] == 0
