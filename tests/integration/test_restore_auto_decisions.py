"""``k3s-dr restore --auto`` against real clusters: healthy (none), wiped (restore), the unit
restarted in the same boot (none), wiped again the same day after a reboot (restore),
rebooted without a new wipe (none). The archive comes from the snapshot link in backup.dir,
as the boot-time unit finds it; the state file carries the history between runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from restore_cli import run_inprocess, write_config
from restore_snapshot import snapshot
from restore_workloads import create_workloads

from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow


def _auto(capsys: pytest.CaptureFixture[str], config: Path, kubeconfig: Path, boot: str,
          *extra: str) -> dict[str, Any]:
    run = run_inprocess(capsys, config, "restore", "--auto", "--boot-id", boot, "--kubeconfig", str(kubeconfig),
                        "--json", *extra)
    assert run.code == 0, run.stderr
    return run.json()


def test_auto_restore_decisions(session_cluster_factory: Any, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    backups = tmp_path / "backups"
    original = session_cluster_factory(nodes=1)
    with Kube.from_kubeconfig(original.kubeconfig) as kube:
        create_workloads(kube)
        archive = snapshot(original.kubeconfig, backups, kube)
    link = backups / "k3s-cluster-snapshot.tar.gz"
    if not link.exists():
        link.symlink_to(archive.name)
    config = write_config(tmp_path / "cfg", backup_dir=backups)

    healthy = _auto(capsys, config, original.kubeconfig, "boot-1")
    assert healthy["auto"]["decision"]["restore"] is False
    assert "cluster healthy" in healthy["auto"]["decision"]["reason"]

    wiped = session_cluster_factory(nodes=1)  # the datastore lost: a new, empty cluster
    restored = _auto(capsys, config, wiped.kubeconfig, "boot-1")
    assert restored["auto"]["decision"]["restore"] is True
    assert restored["complete"] is True and restored["counts"]["created"] > 20
    assert restored["archive"] == str(archive.resolve())

    with Kube.from_kubeconfig(wiped.kubeconfig) as kube:
        kube.request("DELETE", "/api/v1/namespaces/shop")
        kube.request("DELETE", "/api/v1/namespaces/data")
        same_boot = _auto(capsys, config, wiped.kubeconfig, "boot-1")
        assert same_boot["auto"]["decision"]["restore"] is False
        assert "at most one per boot" in same_boot["auto"]["decision"]["reason"]

    wiped_again = session_cluster_factory(nodes=1)  # rebooted the same day, datastore lost again
    again = _auto(capsys, config, wiped_again.kubeconfig, "boot-2")
    assert again["auto"]["decision"]["restore"] is True and again["complete"] is True

    restarted = _auto(capsys, config, wiped_again.kubeconfig, "boot-3")
    assert restarted["auto"]["decision"]["restore"] is False
    assert "cluster healthy" in restarted["auto"]["decision"]["reason"]

    state = json.loads((tmp_path / "cfg" / "state" / "auto-restore.json").read_text())
    assert [d["restore"] for d in state["decisions"]] == [False, True, False, True, False]
    assert all(d["reason"] for d in state["decisions"])
    assert state["last_restore"]["boot_id"] == "boot-2"


def test_auto_without_a_snapshot_decides_nothing(cluster: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "cfg", backup_dir=tmp_path / "empty")
    result = _auto(capsys, config, cluster.kubeconfig, "boot-x")
    assert result["auto"]["decision"] == {"restore": False, "reason": "no snapshot to restore from", "loss": 0.0}


def test_force_needs_auto(cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_inprocess(capsys, write_config(tmp_path), "restore", "--force", "--kubeconfig", str(cluster.kubeconfig))
    assert run.code == 2 and "--force works with --auto only" in run.stderr


def test_auto_with_a_corrupt_snapshot_refuses_and_records_why(cluster: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "k3s-dr-20261128T100000Z.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    (backups / "k3s-cluster-snapshot.tar.gz").symlink_to("k3s-dr-20261128T100000Z.tar.gz")
    config = write_config(tmp_path / "cfg", backup_dir=backups)
    run = run_inprocess(capsys, config, "restore", "--auto", "--boot-id", "boot-x", "--kubeconfig",
                        str(cluster.kubeconfig), "--json")
    assert run.code == 8 and "refused, nothing applied" in run.stderr
    state = json.loads((tmp_path / "cfg" / "state" / "auto-restore.json").read_text())
    assert state["decisions"][-1]["restore"] is False
    assert "the snapshot is refused" in state["decisions"][-1]["reason"]
