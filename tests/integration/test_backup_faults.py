"""Bad input and hostile conditions: each a clear error, nothing partial promoted, the old backup intact."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from _backup_helpers import Run, cli, create, isolated_env

from dr_lib.archive import exclusive_lock, read_link, verify_archive
from dr_lib.archive import format as fmt
from dr_lib.kube.client import Kube
from tests.skip_rule import unavailable

LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")


def backup(kubeconfig: Path | str, directory: Path, env: dict[str, str], *extra: str) -> Run:
    return cli("backup", "--kubeconfig", kubeconfig, "--dir", directory, "--json", *extra, env=env)


@pytest.fixture
def good(cluster: Any, namespace: str, tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A backup dir holding one promoted archive; returns (dir, archive name, env)."""
    env = isolated_env(tmp_path)
    directory = tmp_path / "backups"
    run = backup(cluster.kubeconfig, directory, env, "-n", namespace, "--kind", "configmaps")
    assert run.code == 0, run.stderr
    return directory, Path(run.json["archive"]).name, env


def assert_intact(directory: Path, archive: str) -> None:
    """The old archive still verifies, both links point at it, and no work file was left behind."""
    verify_archive(directory / archive)
    for link in LINKS:
        assert read_link(directory, link).target == archive
    assert not [p.name for p in directory.iterdir() if p.name.startswith(fmt.TEMP_PREFIX)]
    archives = [p.name for p in directory.iterdir() if fmt.archive_time(p.name)]
    assert archives == [archive]


def edited_kubeconfig(source: Path, target: Path, *, server: str | None = None, token: str | None = None) -> Path:
    config = yaml.safe_load(source.read_text())
    if server is not None:
        config["clusters"][0]["cluster"]["server"] = server
    if token is not None:
        config["users"][0]["user"] = {"token": token}
    target.write_text(yaml.safe_dump(config))
    return target


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_api_server(cluster: Any, good: tuple[Path, str, dict[str, str]], tmp_path: Path) -> None:
    directory, archive, env = good
    kubeconfig = edited_kubeconfig(cluster.kubeconfig, tmp_path / "kc", server=f"https://127.0.0.1:{closed_port()}")
    run = backup(kubeconfig, directory, env)
    assert run.code == 6
    assert "did not answer" in run.stderr and "is the cluster running" in run.stderr
    assert_intact(directory, archive)
    assert "k3s-dr backup FAILED exit=6" in (tmp_path / "k3s-dr.log").read_text()


@pytest.mark.parametrize("token", ["wrong-token", "expired.eyJleHAiOjF9.sig"])
def test_wrong_or_expired_credentials(cluster: Any, good: tuple[Path, str, dict[str, str]], tmp_path: Path,
                                      token: str) -> None:
    directory, archive, env = good
    kubeconfig = edited_kubeconfig(cluster.kubeconfig, tmp_path / "kc", token=token)
    run = backup(kubeconfig, directory, env)
    assert run.code == 6
    assert "refused our credentials (401 Unauthorized)" in run.stderr
    assert token not in run.stderr  # no secrets in messages
    assert_intact(directory, archive)


def test_missing_kubeconfig_is_a_usage_error(good: tuple[Path, str, dict[str, str]], tmp_path: Path) -> None:
    directory, archive, env = good
    run = backup(tmp_path / "nope.yaml", directory, env)
    assert run.code == 2 and "does not exist" in run.stderr
    assert_intact(directory, archive)


def test_a_concurrent_run_is_refused_while_the_lock_is_held(cluster: Any, good: tuple[Path, str, dict[str, str]],
                                                             tmp_path: Path) -> None:
    directory, archive, env = good
    with exclusive_lock(env["K3S_DR_BACKUP_LOCK_FILE"], "restore"):
        run = backup(cluster.kubeconfig, directory, env)
    assert run.code == 5
    assert f"cannot back up: pid {os.getpid()} (restore) holds the lock" in run.stderr
    assert_intact(directory, archive)


def test_two_backups_started_together_never_interleave(cluster: Any, good: tuple[Path, str, dict[str, str]]) -> None:
    directory, _, env = good
    from _backup_helpers import K3S_DR  # noqa: PLC0415

    procs = [subprocess.Popen([K3S_DR, "backup", "--kubeconfig", str(cluster.kubeconfig), "--dir", str(directory),
                               "--json", "--allow-shrink"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    codes = [p.wait(timeout=120) for p in procs]
    assert set(codes) <= {0, 5} and 0 in codes
    for proc, code in zip(procs, codes, strict=True):
        if code == 5:
            assert "holds the lock" in proc.stderr.read()  # type: ignore[union-attr]
    for name in (p.name for p in directory.iterdir() if fmt.archive_time(p.name)):
        verify_archive(directory / name)


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN and mount): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full(cluster: Any, kube: Kube, namespace: str, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    args = ("-n", namespace, "--kind", "configmaps", "--allow-shrink")
    with tmpfs(tmp_path / "small", "600k") as directory:
        first = backup(cluster.kubeconfig, directory, env, *args)
        assert first.code == 0, first.stderr
        archive = Path(first.json["archive"]).name
        for i in range(4):  # ~800 KB of incompressible-enough data: more than the file system holds
            create(kube, f"/api/v1/namespaces/{namespace}/configmaps",
                   {"metadata": {"name": f"big-{i}"}, "data": {"blob": os.urandom(150_000).hex()[:200_000]}})
        run = backup(cluster.kubeconfig, directory, env, *args)
        assert run.code == 7, run.stderr
        assert "No space left on device" in run.stderr and "free space" in run.stderr
        assert_intact(directory, archive)


def test_unwritable_directory(cluster: Any, namespace: str, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with tmpfs(tmp_path / "ro", "1m") as directory:
        first = backup(cluster.kubeconfig, directory, env, "-n", namespace, "--kind", "configmaps")
        assert first.code == 0, first.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
        run = backup(cluster.kubeconfig, directory, env, "-n", namespace, "--kind", "configmaps")
        assert run.code == 7, run.stderr
        assert "Read-only file system" in run.stderr
        assert_intact(directory, Path(first.json["archive"]).name)


def test_backup_dir_that_is_a_file(cluster: Any, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    run = backup(cluster.kubeconfig, tmp_path / "file", isolated_env(tmp_path))
    assert run.code == 2
    assert "'--dir'" in run.stderr and str(tmp_path / "file") in run.stderr and "is a file" in run.stderr


def test_a_kind_that_vanishes_after_discovery_is_left_out_with_a_warning(kube: Kube, tmp_path: Path) -> None:
    from dr_lib.backup.export import export_scope  # noqa: PLC0415
    from dr_lib.backup.scope import Scope, ScopeOptions  # noqa: PLC0415
    from dr_lib.kube.client import ResourceType  # noqa: PLC0415
    from dr_lib.kube.discovery import APIResource, discover  # noqa: PLC0415

    discovery = discover(kube)
    configmaps = discovery.by_group_plural("", "configmaps")
    assert configmaps is not None
    vanished = APIResource(ResourceType("gone.k3s-dr.test", "v1", "gizmos", "Gizmo", namespaced=True))
    exported, warnings = export_scope(kube, discovery, Scope((configmaps, vanished), follow_crds=False),
                                      ScopeOptions(), tmp_path)
    assert [k.resource.name for k in exported] == ["configmaps"]
    assert len(warnings) == 1 and warnings[0].startswith("gizmos.gone.k3s-dr.test left out: LIST Gizmo.gone")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configmaps.yaml"]
