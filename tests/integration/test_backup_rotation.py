"""Rotation, daily/weekly tiers and the shrink guard with real archives of a real cluster.

The runs take their time from a clock passed in (the same seam production uses with the real
clock), so archive names and tiers are exact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _backup_helpers import cli, create, delete, isolated_env, wait_for

from dr_lib.archive import read_link, verify_archive
from dr_lib.archive.userobjects import SYSTEM_NAMESPACES
from dr_lib.backup.rotation import RotationPolicy
from dr_lib.backup.run import BackupRequest, run_backup
from dr_lib.backup.scope import ScopeOptions
from dr_lib.kube.client import Kube

START = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")


def request(cluster: Any, tmp_path: Path, namespace: str, **overrides: Any) -> BackupRequest:
    base = BackupRequest(kubeconfig=cluster.kubeconfig, directory=tmp_path / "backups",
                         lock_file=tmp_path / "lock", log_file=tmp_path / "log", datastore="off",
                         options=ScopeOptions(include_kinds=("configmaps",), include_namespaces=(namespace,),
                                              selector="set=t"))
    return BackupRequest(**{**base.__dict__, **overrides})


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def configmaps(kube: Kube, namespace: str, count: int, prefix: str = "cm") -> None:
    for i in range(count):
        body = {"metadata": {"name": f"{prefix}-{i}", "labels": {"set": "t"}}, "data": {"i": str(i)}}
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps", body)


def archive_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("k3s-dr-") and p.name.endswith(".tar.gz"))


def test_keep_two_like_the_seed_and_links_follow_the_newest(cluster: Any, kube: Kube, namespace: str,
                                                           tmp_path: Path) -> None:
    configmaps(kube, namespace, 3)
    req = request(cluster, tmp_path, namespace)
    results = [run_backup(req, clock=at(START + timedelta(minutes=10 * i))) for i in range(4)]
    assert archive_names(req.directory) == [r.archive.name for r in results[-2:]]
    assert results[2].deleted == ("k3s-dr-20261120T230000Z.tar.gz",)
    assert results[3].deleted == ("k3s-dr-20261120T231000Z.tar.gz",)
    for link in LINKS:
        assert read_link(req.directory, link).target == results[-1].archive.name
    assert not [p for p in req.directory.iterdir() if p.name.endswith(".verified.json")
                and p.name.removesuffix(".verified.json") not in archive_names(req.directory)]


def test_daily_and_weekly_tiers_keep_history(cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    configmaps(kube, namespace, 2)
    req = request(cluster, tmp_path, namespace, policy=RotationPolicy(keep=2, keep_daily=3, keep_weekly=2))
    times = [START + timedelta(hours=6 * i) for i in range(12)]  # Fri 20th 23:00 … Mon 23rd 17:00, every 6 h
    for moment in times:
        run_backup(req, clock=at(moment))
    kept = archive_names(req.directory)
    assert kept == [
        "k3s-dr-20261121T230000Z.tar.gz",  # daily: newest of the 21st
        "k3s-dr-20261122T230000Z.tar.gz",  # daily 22nd; weekly 2026-W47 (Mon 16th - Sun 22nd)
        "k3s-dr-20261123T110000Z.tar.gz",  # newest 2
        "k3s-dr-20261123T170000Z.tar.gz",  # newest 2, daily 23rd, weekly W48, newest verified, linked
    ]
    for name in kept:
        verify_archive(req.directory / name)


def test_shrink_guard_keeps_but_does_not_promote_then_allow_shrink(cluster: Any, kube: Kube, namespace: str,
                                                                   tmp_path: Path) -> None:
    configmaps(kube, namespace, 10)
    req = request(cluster, tmp_path, namespace)
    good = run_backup(req, clock=at(START))
    assert good.promoted and good.objects == 10
    for i in range(8):
        delete(kube, f"/api/v1/namespaces/{namespace}/configmaps/cm-{i}")
    shrunk = run_backup(req, clock=at(START + timedelta(hours=1)))
    assert not shrunk.promoted and shrunk.objects == 2
    assert "dropped from 10 to 2 (80%)" in (shrunk.not_promoted_reason or "")
    assert shrunk.archive.exists() and verify_archive(shrunk.archive).objects == 2
    for link in LINKS:
        assert read_link(req.directory, link).target == good.archive.name
    assert "NOT-PROMOTED" in (tmp_path / "log").read_text()

    # Many hourly backups of the wiped cluster never rotate the promoted archive away.
    for hour in range(2, 5):
        assert not run_backup(req, clock=at(START + timedelta(hours=hour))).promoted
    assert good.archive.name in archive_names(req.directory)
    assert read_link(req.directory, LINKS[1]).target == good.archive.name

    env = isolated_env(tmp_path)
    cli_args = ("backup", "--kubeconfig", cluster.kubeconfig, "--dir", req.directory, "--json",
                "-n", namespace, "--kind", "configmaps", "-l", "set=t")
    refused = cli(*cli_args, env=env)
    assert refused.code == 4, refused.stderr
    assert refused.json["promoted"] is False
    assert "kept but not promoted" in refused.stderr and "--allow-shrink" in refused.stderr
    allowed = cli(*cli_args, "--allow-shrink", env=env)
    assert allowed.code == 0, allowed.stderr
    assert allowed.json["promoted"] is True
    assert os.readlink(req.directory / LINKS[0]) == Path(allowed.json["archive"]).name
    assert good.archive.name not in archive_names(req.directory)  # no longer linked: rotated away


def test_shrink_guard_counts_user_objects_when_built_in_ones_hide_the_loss(cluster: Any, kube: Kube, namespace: str,
                                                                          tmp_path: Path) -> None:
    # The boot drill's case: after a wipe k3s still has its built-in objects, so the total barely
    # drops while every user object is gone. The guard compares the user objects of both manifests.
    configmaps(kube, namespace, 3)
    create(kube, f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "robot"}})
    env = isolated_env(tmp_path)
    args: list[str | Path] = ["backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "backups", "--json"]
    for kind in ("configmaps", "serviceaccounts", "namespaces"):
        args += ["--kind", kind]
    for ns in (namespace, *sorted(SYSTEM_NAMESPACES)):  # not "default": other tests may use it
        args += ["-n", ns]
    good = cli(*args, env=env)
    assert good.code == 0, good.stderr
    assert good.json["promoted"] is True
    manifest = verify_archive(Path(good.json["archive"])).manifest
    # 3 configmaps, robot and the namespace; its default SA and kube-root-ca.crt are made by the cluster
    assert manifest.user_objects == 5, [(f.resource, f.user_objects) for f in manifest.files]

    delete(kube, f"/api/v1/namespaces/{namespace}")
    wait_for(lambda: kube.request("GET", f"/api/v1/namespaces/{namespace}").status == 404, 120,
             f"namespace {namespace} to be gone")
    wiped = cli(*args, env=env)
    assert wiped.code == 4, wiped.stderr
    assert wiped.json["promoted"] is False
    assert wiped.json["objects"] > manifest.objects * 0.5  # all objects dropped less than the 50% threshold
    assert verify_archive(Path(wiped.json["archive"])).manifest.user_objects == 0
    assert "user objects dropped from 5 to 0 (100%)" in wiped.stderr
    for link in LINKS:
        assert read_link(tmp_path / "backups", link).target == Path(good.json["archive"]).name
