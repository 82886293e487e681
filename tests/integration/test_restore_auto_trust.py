"""Boot restore trusts only what it made, against a real API server: a snapshot link planted on a verified
archive outside backup.dir, on a copy carrying another archive's verification record, or on an archive
whose record holds another sha256 is refused (exit 8) — the decision recorded and counted, nothing applied,
no ledger written — while the lost objects would otherwise be restored, as the last run shows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, isolated_env
from _kube import create, delete, wait_for
from restore_cli import run_inprocess

from dr_lib.archive import format as fmt
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow

SNAPSHOT = "k3s-cluster-snapshot.tar.gz"


def write_config(root: Path, backups: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yaml"
    config.write_text(f"backup:\n  dir: {backups}\n  lock_file: {root / 'lock' / 'k3s-dr.lock'}\n"
                      f"restore:\n  state_dir: {root / 'state'}\n  wait_timeout: 90s\n"
                      f"metrics:\n  textfile: {root / 'metrics' / 'k3s_dr.prom'}\n", encoding="utf-8")
    return config


def plant(backups: Path, target: Path | str) -> None:
    link = backups / SNAPSHOT
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def present(kube: Kube, namespace: str) -> list[str]:
    body = kube.get(f"/api/v1/namespaces/{namespace}/configmaps").get("items") or []
    return sorted(item["metadata"]["name"] for item in body if item["metadata"]["name"].startswith("cm-"))


def test_auto_restore_refuses_planted_links_and_applies_nothing(cluster: Any, kube: Kube, namespace: str,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(4):
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"cm-{i}"}})
    elsewhere, backups = tmp_path / "elsewhere", tmp_path / "backups"
    made = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", elsewhere, "-n", namespace, "--kind",
               "configmaps", "--no-datastore", "--json", env=isolated_env(tmp_path))
    assert made.code == 0, made.stderr
    original = Path(made.json["archive"])  # verified, with its sidecar: k3s-dr made it, but not in backup.dir
    for i in range(4):
        delete(kube, f"/api/v1/namespaces/{namespace}/configmaps/cm-{i}")
    wait_for(lambda: present(kube, namespace) == [], 30, "the config maps to be gone")

    backups.mkdir(mode=0o700)
    config = write_config(tmp_path / "cfg", backups)
    copy = backups / "k3s-dr-20261128T100000Z.tar.gz"  # another archive's name and record, copied along
    shutil.copy(original, copy)
    shutil.copy(original.with_name(fmt.sidecar_name(original.name)), copy.with_name(fmt.sidecar_name(copy.name)))
    same_name = backups / original.name  # the right name and size, but a record of another sha256
    shutil.copy(original, same_name)
    record = json.loads(original.with_name(fmt.sidecar_name(original.name)).read_text())
    same_name.with_name(fmt.sidecar_name(same_name.name)).write_text(json.dumps({**record, "sha256": "0" * 64}))

    # (the planted link's target, the reason named)
    for target, reason in ((original, "outside the backup directory"),
                           (f"../elsewhere/{original.name}", "outside the backup directory"),
                           (copy.name, f"is for '{original.name}'"),
                           (same_name.name, "sha256 is not the one its verification record holds")):
        plant(backups, target)
        run = run_inprocess(capsys, config, "restore", "--auto", "--boot-id", f"boot-{reason[:8]}",
                            "--kubeconfig", str(cluster.kubeconfig), "--json")
        assert run.code == 8, (target, run.stderr)
        assert "refused, nothing applied" in run.stderr and reason in run.stderr, (target, run.stderr)
        assert present(kube, namespace) == [], f"{target}: objects were applied"
        decision = json.loads((tmp_path / "cfg" / "state" / "auto-restore.json").read_text())["decisions"][-1]
        assert decision["restore"] is False and decision["refused"] is True and reason in decision["reason"]
    assert not (tmp_path / "cfg" / "state" / "ledgers").exists()  # nothing was restored, so no ledger
    metrics = json.loads((tmp_path / "cfg" / "state" / "metrics-state.json").read_text())
    assert metrics["decisions"] == {"restore": 0, "no_restore": 0, "refused": 4}

    # The control: the same lost objects, the same archive verified by k3s-dr in backup.dir: restored.
    shutil.copy(original, backups / "k3s-dr-20261128T090000Z.tar.gz")
    run = run_inprocess(capsys, config, "verify", str(backups / "k3s-dr-20261128T090000Z.tar.gz"))
    assert run.code == 0, run.stderr
    plant(backups, "k3s-dr-20261128T090000Z.tar.gz")
    restored = run_inprocess(capsys, config, "restore", "--auto", "--boot-id", "boot-good", "--kubeconfig",
                             str(cluster.kubeconfig), "--json")
    assert restored.code == 0, restored.stderr
    assert restored.json()["auto"]["decision"]["restore"] is True
    assert present(kube, namespace) == [f"cm-{i}" for i in range(4)]
