"""Pruning never breaks a kept archive: ten real backups of a volume whose data they share, then every kept one back.

Each backup runs through the real CLI on the local cluster (a kwok pod's claim bound to a hostPath
volume below the test's storage root): one file changes between backups, so the snapshots share
almost all their data. Rotation keeps three archives; the data repository is pruned with it
(``restic forget`` of what no kept archive references, then ``prune``). Afterwards each kept
archive is restored into the emptied directory and compared byte for byte with what the volume held
when that archive was taken; the repository holds exactly the kept archives' snapshots and passes
``restic check --read-data``.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, isolated_env
from _volumes import hostpath_claim_pod, node_names

from dr_lib.archive.access import read_manifest
from dr_lib.datarepo.repository import DataRepository
from dr_lib.hooks.pvdata import tree_digest
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow
BACKUPS, KEEP = 10, 3


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _match, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in compared.common_dirs)


def test_ten_backups_rotated_and_pruned_every_kept_archive_restores_byte_identical(
        cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    root, data = tmp_path / "storage", tmp_path / "storage" / "pvc-shared"
    (data / "blobs").mkdir(parents=True)
    for index in range(12):
        (data / "blobs" / f"b{index:02d}").write_bytes(os.urandom(200_000))
    hostpath_claim_pod(kube, namespace, data, claim="shared", pod="app-0")
    nodes = node_names(kube)
    (tmp_path / "config.yaml").write_text(json.dumps({
        "hooks": {"local_nodes": nodes}, "data": {"volume_roots": [str(root)]},
        "backup": {"keep": KEEP, "keep_daily": 0, "keep_weekly": 0}}))
    env = isolated_env(tmp_path, K3S_DR_RESTORE_STATE_DIR=str(tmp_path / "state"))
    backups, expected = tmp_path / "backups", tmp_path / "expected"

    taken: dict[str, tuple[int, int, str]] = {}
    for round_ in range(BACKUPS):
        (data / "blobs" / f"b{round_ % 12:02d}").write_bytes(os.urandom(200_000))  # one file of twelve changes
        (data / "round").write_text(str(round_))
        run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", backups, "-n", namespace, "--json",
                  env=env)
        assert run.code == 0, run.stderr
        name = Path(run.json["archive"]).name
        taken[name] = tree_digest(data)
        shutil.copytree(data, expected / name, symlinks=True)
        if round_:
            restic = run.json["data"]["repository"]["snapshots"][0]
            assert restic["files_unmodified"] >= 11, restic  # the shared data was not read again
        time.sleep(1)  # archive names are per second

    kept = sorted(p.name for p in backups.glob("k3s-dr-*.tar.gz"))
    assert kept == sorted(taken)[-KEEP:]
    repository = DataRepository(backups)
    snapshots = repository.snapshots(time.monotonic() + 300)
    referenced = {e.snapshot for name in kept for e in read_manifest(backups / name).stored_data}
    assert {s.ref for s in snapshots} == referenced and len(referenced) == KEEP  # the others were pruned
    repository.check(time.monotonic() + 600, subset="100%")  # every pack read back and hashed

    for name in kept:
        shutil.rmtree(data)
        run = cli("restore", backups / name, "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json",
                  env=env, timeout=300)
        assert run.code == 0, run.stderr + run.stdout
        volume = run.json["data"]["volumes"][0]
        assert (volume["action"], volume["verified"]) == ("placed", True)
        assert tree_digest(data) == taken[name]
        assert same_tree(data, expected / name), f"{name} did not come back byte-identical"
