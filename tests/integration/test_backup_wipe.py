"""The seed's failure, on a real local cluster: a backup of a wiped cluster must never become `latest`.

User namespaces seeded with objects are backed up (promoted); every user namespace is deleted; two
more backups are taken by the real CLI: neither is promoted (exit 4, even with
backup.shrink_threshold 1.0), both links still point at the good archive, and rotation with keep: 2
leaves it on disk; ``k3s-dr list`` shows the user objects per archive; restoring the wiped archive
warns; restoring the good archive brings every user object back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, default_kind_bodies, isolated_env
from _kube import create, settled_user_objects, user_objects, wait_for

from dr_lib.archive import iter_archive_objects, read_link
from dr_lib.archive.userobjects import not_user_reason
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow

LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")
USER_NAMESPACES = ("shop", "data", "billing")


def archived_user_objects(archive: Path) -> set[str]:
    return {f"{entry.resource} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
            for entry, obj in iter_archive_objects(archive) if not_user_reason(entry.resource, obj) is None}


def seed(kube: Kube) -> None:
    for index, namespace in enumerate(USER_NAMESPACES):
        create(kube, "/api/v1/namespaces", {"metadata": {"name": namespace}})
        wait_for(lambda ns=namespace: kube.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default").ok,
                 60, f"the default service account of {namespace}")
        for _kind, path, body in default_kind_bodies(namespace, f"w{index}"):
            if "/namespaces/" in path:  # the user namespaces' own objects; nothing cluster-wide
                create(kube, path, body)
        for i in range(5):
            create(kube, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"settings-{i}"},
                                                                        "data": {"i": str(i)}})


def wipe(kube: Kube) -> None:
    for namespace in USER_NAMESPACES:
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    for namespace in USER_NAMESPACES:
        wait_for(lambda ns=namespace: kube.request("GET", f"/api/v1/namespaces/{ns}").status == 404, 180,
                 f"namespace {namespace} to be gone")


def write_config(tmp_path: Path, backups: Path) -> dict[str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"backup:\n  dir: {backups}\n  keep: 2\n  shrink_threshold: 1.0\n"
                      f"restore:\n  state_dir: {tmp_path / 'state'}\n"
                      f"metrics:\n  textfile: {tmp_path / 'metrics' / 'k3s_dr.prom'}\n", encoding="utf-8")
    return isolated_env(tmp_path)


def archives(backups: Path) -> list[str]:
    return sorted(p.name for p in backups.iterdir() if p.name.startswith("k3s-dr-") and p.name.endswith(".tar.gz"))


def test_a_wipe_never_becomes_latest_and_the_good_archive_brings_everything_back(cluster_factory: Any,
                                                                                 tmp_path: Path) -> None:
    fresh = cluster_factory(nodes=1)
    backups = tmp_path / "backups"
    env = write_config(tmp_path, backups)
    backup = ("backup", "--kubeconfig", fresh.kubeconfig, "--no-datastore", "--json")
    with Kube.from_kubeconfig(fresh.kubeconfig) as kube:
        seed(kube)
        before = settled_user_objects(kube, 60)
        assert len(before) >= 3 * 15, sorted(before)

        good = cli(*backup, env=env)
        assert good.code == 0, good.stderr
        assert good.json["promoted"] is True
        assert archived_user_objects(Path(good.json["archive"])) == before
        good_name = Path(good.json["archive"]).name

        wipe(kube)
        assert user_objects(kube) == set()
        for attempt in (1, 2):
            wiped = cli(*backup, env=env)
            assert wiped.code == 4, (attempt, wiped.stderr)
            assert wiped.json["promoted"] is False and wiped.json["user_objects"] == 0
            assert f"user objects dropped from {len(before)} to 0 (100%)" in wiped.json["not_promoted_reason"]
            assert "kept but not promoted" in wiped.stderr and "--allow-shrink" in wiped.stderr
            for link in LINKS:
                assert read_link(backups, link).target == good_name, (attempt, link)
        assert good_name in archives(backups) and len(archives(backups)) == 3  # keep 2, and the good one

        listed = cli("list", "--dir", backups, "--json", env=env)
        assert listed.code == 0, listed.stderr
        counts = {a["name"]: a["user_objects"] for a in listed.json["archives"]}
        assert counts[good_name] == len(before) and sorted(counts.values()) == [0, 0, len(before)]
        table = cli("list", "--dir", backups, env=env).stdout
        assert " USER " in table.splitlines()[0]
        assert any(line.startswith(good_name) and f" {len(before)} " in line for line in table.splitlines())

        newest_wiped = backups / max(name for name in archives(backups) if name != good_name)
        dry = cli("restore", newest_wiped, "--kubeconfig", fresh.kubeconfig, "--dry-run", "--json", env=env)
        assert dry.code == 0, dry.stderr
        assert any(f"holds 0 user objects, 100% fewer than {good_name}" in w for w in dry.json["warnings"])
        assert "k3s-dr: warning: archive" in dry.stderr

        restored = cli("restore", backups / good_name, "--kubeconfig", fresh.kubeconfig, "--json", env=env,
                       timeout=300)
        assert restored.code == 0, restored.stderr
        assert restored.json["complete"] is True and restored.json["warnings"] == []
        assert settled_user_objects(kube, 60) == before
    assert os.readlink(backups / LINKS[1]) == good_name
