"""Restores put volume data only below the storage roots: hostile archives against the real CLI and file system.

A real backup (kwok pod, claim bound to a hostPath volume below the test's root, the data in the
data repository) gives a genuine archive. Forged ones are made from it the way an attacker who can
write an archive would: members kept, the manifest changed, everything re-hashed by the real
writer — fully consistent archives. Each hostile one is refused naming the path and the reason, with
nothing written anywhere (listings compared before and after); the genuine one comes back, its
digest checked. Hostile *contents* — a snapshot or a format-v1 tar holding a link pointing out, a
hard link, a device node, setuid and group-writable files — are refused or defused as documented.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, isolated_env
from _volumes import hostpath_claim_pod, node_names

from dr_lib.archive import format as fmt
from dr_lib.archive.dataentry import DataEntry
from dr_lib.archive.manifest import Manifest
from dr_lib.archive.writer import write_archive
from dr_lib.datarepo.repository import DataRepository
from dr_lib.errors import ExitCode
from dr_lib.hooks.pvdata import tree_digest
from dr_lib.hooks.treedigest import TreeDigest
from dr_lib.hooks.treescan import walk
from dr_lib.kube.client import Kube
from dr_lib.offsite.members import extract_members
from tests.integration._restic_forge import ForgedDir, ForgedFile, ForgedLink, forge_snapshot

pytestmark = pytest.mark.slow



@dataclasses.dataclass
class Source:
    root: Path  # the storage root the config allows
    outside: Path  # a sibling the archive must never reach
    data: Path  # the volume's directory
    backups: Path
    archive: Path
    env: dict[str, str]
    kubeconfig: str
    namespace: str
    digest: tuple[int, int, str]


def listing(path: Path) -> list[str]:
    """Every name below ``path`` with its type, mode and size: what a write anywhere would change."""
    if not path.exists():
        return ["<absent>"]
    return sorted(f"{p} {stat.filemode(p.lstat().st_mode)} {p.lstat().st_size}" for p in [path, *path.rglob("*")])


def entries(path: Path) -> tuple[str, ...]:
    """A system directory's own state: its names and mtime (a file created or renamed in it changes them)."""
    if not path.is_dir():
        return ("<absent>",) if not path.exists() else ("<not a directory>",)
    return (str(path.stat().st_mtime_ns), *sorted(p.name for p in path.iterdir()))


def snapshot_of_disk(source: Source, target: str = "") -> dict[str, Any]:
    """The test's roots in full, and the target with its parent and grandparent (system paths: not walked)."""
    watched = [Path(target), Path(target).parent, Path(target).parent.parent] if target.startswith("/") else []
    return {"root": listing(source.root), "outside": listing(source.outside),
            **{str(p): entries(p) for p in watched}}


@pytest.fixture(scope="module")
def source(cluster: Any, kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    base = tmp_path_factory.mktemp("confine")
    root, outside = base / "storage", base / "outside"
    outside.mkdir()
    data = root / "pvc-uploads"
    (data / "media").mkdir(parents=True)
    (data / "media" / "clip.bin").write_bytes(os.urandom(30_000))
    (data / "index.json").write_text('{"clips": 1}')
    (data / "tool").write_bytes(b"#!/bin/sh\n")
    (data / "tool").chmod(0o4755)  # setuid: must never come back setuid
    os.setxattr(data / "tool", "user.planted", b"1")  # restic stores extended attributes: never restored
    os.setxattr(data, "user.planted", b"1")
    (data / "shared").mkdir()
    (data / "shared").chmod(0o2775)  # setgid, group-writable
    (data / "shared" / "notes").write_text("n")
    (data / "shared" / "notes").chmod(0o666)
    os.link(data / "index.json", data / "index.hardlink")
    (root / "evil").symlink_to(outside)  # a link inside the root pointing out of it
    namespace = cluster.create_namespace("confine")
    hostpath_claim_pod(kube, namespace, data)
    nodes = node_names(kube)
    config = base / "config.yaml"
    config.write_text(json.dumps({"hooks": {"local_nodes": nodes}, "data": {"volume_roots": [str(root)]}}))
    env = isolated_env(base, K3S_DR_RESTORE_STATE_DIR=str(base / "state"))
    digest = tree_digest(data)
    run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", base / "b", "-n", namespace, "--json", env=env)
    assert run.code == 0, run.stderr
    yield Source(root, outside, data, base / "b", Path(run.json["archive"]), env, str(cluster.kubeconfig),
                 namespace, digest)
    cluster.delete_namespace(namespace)


_FORGED = iter(range(1, 10_000))


def forge(source: Source, change: Callable[[Manifest], Manifest], extra: dict[str, Path] | None = None) -> Path:
    """The genuine archive with its manifest changed, rewritten by the real writer beside it (same repository)."""
    members = source.backups.parent / f"members-{os.getpid()}"
    manifest = extract_members(source.archive, members)
    forged = change(manifest)
    later = manifest.created_at + timedelta(minutes=next(_FORGED))
    forged = dataclasses.replace(forged, created=fmt.format_time(later))
    sources = {m: members / m for m in forged.member_paths() if (members / m).exists()} | (extra or {})
    path = write_archive(source.backups, forged, sources)
    shutil.rmtree(members)
    return path


def with_volume(change: Callable[[DataEntry], DataEntry]) -> Callable[[Manifest], Manifest]:
    return lambda m: dataclasses.replace(m, data=tuple(change(e) for e in m.data))


def node_path(path: str) -> Callable[[DataEntry], DataEntry]:
    return lambda e: dataclasses.replace(e, meta={**e.meta, "node_path": path})


def restore(source: Source, archive: Path, *extra: str) -> Any:
    return cli("restore", archive, "--kubeconfig", source.kubeconfig, "-n", source.namespace, "--json", *extra,
               env=source.env, timeout=300)


@pytest.mark.parametrize(("target", "reason"), [
    ("/var/lib/rancher/k3s/server/manifests/evil", "is outside the storage roots"),
    ("/var/lib/rancher/k3s/agent/pod-manifests", "is outside the storage roots"),
    ("/var/spool/cron/crontabs", "is outside the storage roots"),
    ("/root", "is outside the storage roots"),
    ("/home/x/.ssh", "is outside the storage roots"),
    ("{root}/evil/vol", "(it resolves to {outside}/vol) is outside the storage roots"),
    ("{root}/../outside/vol", "is not a plain absolute path"),
    ("{root}", "is outside the storage roots"),
])
def test_a_consistent_archive_aiming_outside_the_roots_is_refused_and_writes_nothing(source: Source, target: str,
                                                                                    reason: str) -> None:
    target = target.format(root=source.root, outside=source.outside)
    archive = forge(source, with_volume(node_path(target)))
    shutil.rmtree(source.data)  # nothing there: a restore would write it if it were allowed to
    before = snapshot_of_disk(source, target)
    try:
        run = restore(source, archive)
        assert run.code == ExitCode.INTEGRITY, run.stderr + run.stdout
        assert f"archive {archive.name} refused, nothing applied" in run.stderr
        assert repr(target) in run.stderr and reason.format(root=source.root, outside=source.outside) in run.stderr
        assert snapshot_of_disk(source, target) == before
    finally:
        archive.unlink()
        put_back(source)


def test_a_volume_without_its_tree_digest_is_refused(source: Source) -> None:
    archive = forge(source, with_volume(lambda e: dataclasses.replace(e, meta={
        k: v for k, v in e.meta.items() if k != "tree_sha256"})))
    shutil.rmtree(source.data)
    before = snapshot_of_disk(source)
    try:
        run = restore(source, archive)
        assert run.code == ExitCode.INTEGRITY, run.stderr
        assert "no tree sha256 in the manifest" in run.stderr
        assert snapshot_of_disk(source) == before
    finally:
        archive.unlink()
        put_back(source)


def put_back(source: Source) -> dict[str, Any]:
    """The genuine archive restores the volume: proven against its snapshot and manifest, modes made safe."""
    if source.data.exists():
        shutil.rmtree(source.data)
    run = restore(source, source.archive)
    assert run.code == 0, run.stderr + run.stdout
    volume: dict[str, Any] = run.json["data"]["volumes"][0]
    assert (volume["action"], volume["verified"], volume["tree_sha256"]) == ("placed", True, source.digest[2])
    assert tree_digest(source.data) == source.digest
    return volume


def test_the_genuine_archive_comes_back_with_its_digest_and_nothing_unsafe(source: Source) -> None:
    put_back(source)
    modes = {name: oct((source.data / name).stat().st_mode & 0o7777)
             for name in ("tool", "shared", "shared/notes", "media")}
    assert modes == {"tool": "0o755", "shared": "0o755", "shared/notes": "0o644", "media": "0o755"}
    # restic restores a hard link as one (both names inside the tree); setuid and group write never come back
    assert (source.data / "index.hardlink").stat().st_ino == (source.data / "index.json").stat().st_ino
    assert (source.data / "index.hardlink").read_text() == '{"clips": 1}'
    assert [os.listxattr(p) for p in (source.data, source.data / "tool")] == [[], []]
    assert not [p for p in source.root.iterdir() if p.name.startswith(".k3s-dr-restoring-")]


def hostile_snapshot(source: Source, build: Callable[[Path], None]) -> Path:
    """A snapshot made with restic itself (the repository's key: an attacker who has it), and a consistent
    archive referencing it, with the tree digest of what the snapshot holds."""
    hostile = source.root / "hostile-src"
    hostile.mkdir()
    build(hostile)
    repository = DataRepository(source.backups)
    deadline = time.monotonic() + 300
    summary = repository.backup([str(hostile)], excludes=[], tags=["archive:forged"], when="2026-01-01 00:00:00",
                                exclude_file=source.backups / ".k3s-dr-tmp-ex", deadline=deadline)
    snapshot, _nodes = repository.listing(summary.short_id, deadline)
    tree = TreeDigest()
    tree.directory(".")
    scan = walk(hostile)
    for rel, meta in scan.nodes.items():
        if rel == ".":
            continue
        if meta.kind == "d":
            tree.directory(rel)
        elif meta.kind == "l":
            tree.symlink(rel, os.readlink(hostile / rel))
        else:
            tree.file(rel, meta.size, hashlib.sha256((hostile / rel).read_bytes()).hexdigest())
    for special in scan.specials:
        tree.file(special, 0, hashlib.sha256(b"").hexdigest())
    digest = tree.hexdigest()
    shutil.rmtree(hostile)
    return forge(source, with_volume(lambda e: dataclasses.replace(
        e, snapshot=snapshot.id, tree=snapshot.tree, source=str(hostile), sha256=digest,
        meta={**e.meta, "tree_sha256": digest})))


@pytest.mark.parametrize(("build", "reason"), [
    (lambda d: (d / "out").symlink_to("../../../etc/passwd"), "'out' is a symbolic link to '../../../etc/passwd'"),
    (lambda d: (d / "abs").symlink_to("/etc/shadow"), "'abs' is a symbolic link to '/etc/shadow'"),
    (lambda d: os.mknod(d / "disk", 0o600 | stat.S_IFCHR, os.makedev(1, 3)), "(chardev)"),
    (lambda d: os.mkfifo(d / "pipe"), "(fifo)"),
])
def test_a_snapshot_holding_what_a_volume_never_holds_is_not_put_in_place(source: Source, build: Any,
                                                                         reason: str) -> None:
    archive = hostile_snapshot(source, build)
    try:
        assert reason in failed_volume(source, archive)["reason"]
    finally:
        archive.unlink()
        put_back(source)


def failed_volume(source: Source, archive: Path) -> dict[str, Any]:
    """Restore ``archive`` into the emptied volume: it fails (exit 3) and nothing on disk changes."""
    shutil.rmtree(source.data)
    before = snapshot_of_disk(source)
    run = restore(source, archive)
    assert run.code == ExitCode.PARTIAL, run.stderr + run.stdout
    failed: dict[str, Any] = run.json["data"]["volumes"][0]
    assert failed["action"] == "failed", failed
    assert snapshot_of_disk(source) == before  # the staging directory is gone again, nothing placed
    return failed


def test_a_snapshot_holding_a_name_twice_is_refused_before_restic_writes(source: Source) -> None:
    """A snapshot forged into the repository (its key is in every archive): a link to a file outside, then an
    empty setuid file of the same name — restic 0.14 alone would truncate the outside file and make it setuid."""
    victim = source.outside / "victim"
    victim.write_bytes(b"precious")
    hostile = source.root / "hostile-src"
    *above, name = str(hostile).strip("/").split("/")
    tree = ForgedDir(name, [ForgedLink("x", str(victim)), ForgedFile("x", b"", 0o4777)])
    for part in reversed(above):
        tree = ForgedDir(part, [tree])
    repository = DataRepository(source.backups)
    snapshot, root_tree = forge_snapshot(repository.path, repository.key_file, [str(hostile)], ForgedDir("", [tree]),
                                         tags=["k3s-dr-data", "archive:forged"])
    archive = forge(source, with_volume(lambda e: dataclasses.replace(e, snapshot=snapshot, tree=root_tree,
                                                                      source=str(hostile))))
    try:
        assert f"holds '{hostile}/x' twice" in failed_volume(source, archive)["reason"]
        assert victim.read_bytes() == b"precious"  # (the outside listing compared holds its size and mode too)
    finally:
        archive.unlink()
        victim.unlink()
        put_back(source)


def v1_archive(source: Source, members: list[tuple[tarfile.TarInfo, bytes]], digest: str) -> Path:
    """A format-v1 archive (the volume as a tar member), consistent: the member's sha256 right."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        root = tarfile.TarInfo(".")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(root)
        for member, data in members:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    blob = buffer.getvalue()
    spooled = source.backups.parent / f"v1-{os.getpid()}.tar"
    spooled.write_bytes(blob)
    entry_path = f"data/volumes/{source.namespace}/uploads.tar"

    def change(manifest: Manifest) -> Manifest:
        volume = manifest.data[0]
        entry = DataEntry(entry_path, "volume", len(blob), hashlib.sha256(blob).hexdigest(),
                          {**volume.meta, "tree_sha256": digest})
        return dataclasses.replace(manifest, data=(entry,), data_repository=None)

    try:
        return forge(source, change, {entry_path: spooled})
    finally:
        spooled.unlink()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


@pytest.mark.parametrize(("members", "reason"), [
    ([(member("out", tarfile.SYMTYPE, "/etc/passwd"), b"")], "'out' is a symbolic link to '/etc/passwd'"),
    ([(member("a"), b"a"), (member("hard", tarfile.LNKTYPE, "a"), b"")], "'hard' is a hard link"),
    ([(member("disk", tarfile.CHRTYPE), b"")], "'disk' is a character device"),
    ([(member("../../escape"), b"x")], "is not a plain relative path"),
])
def test_a_hostile_v1_tar_is_refused(source: Source, members: list[tuple[tarfile.TarInfo, bytes]],
                                      reason: str) -> None:
    archive = v1_archive(source, members, "0" * 64)
    shutil.rmtree(source.data)
    before = snapshot_of_disk(source)
    try:
        run = restore(source, archive)
        assert run.code == ExitCode.PARTIAL, run.stderr + run.stdout
        assert reason in run.json["data"]["volumes"][0]["reason"]
        assert snapshot_of_disk(source) == before
    finally:
        archive.unlink()
        put_back(source)


def test_a_v1_tar_with_setuid_and_group_writable_files_comes_back_defused(source: Source) -> None:
    tree = TreeDigest()
    tree.directory(".")
    tree.directory("d")
    tree.file("d/tool", 3, hashlib.sha256(b"sh\n").hexdigest())
    tree.file("w", 1, hashlib.sha256(b"w").hexdigest())
    archive = v1_archive(source, [(member("d", tarfile.DIRTYPE, mode=0o2777), b""),
                                  (member("d/tool", mode=0o6755), b"sh\n"), (member("w", mode=0o666), b"w")],
                         tree.hexdigest())
    shutil.rmtree(source.data)
    try:
        run = restore(source, archive)
        assert run.code == 0, run.stderr + run.stdout
        assert run.json["data"]["volumes"][0]["verified"] is True
        modes = {n: oct((source.data / n).stat().st_mode & 0o7777) for n in (".", "d", "d/tool", "w")}
        assert modes == {".": "0o755", "d": "0o755", "d/tool": "0o755", "w": "0o644"}
    finally:
        archive.unlink()
        put_back(source)
