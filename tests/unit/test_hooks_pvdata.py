"""Volume data: resolving a pod volume to its node directory, copying it, putting it back safely."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dr_lib.errors import VolumeError
from dr_lib.hooks.pvdata import (
    copy_directory,
    extract_tar,
    place,
    resolve_volume,
    staging_for,
    tree_digest,
)
from dr_lib.hooks.restoredata import check_node_path


def a_pod(*volumes: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": "db-0"},
            "spec": {"nodeName": "localhost", "volumes": list(volumes)}}


CLAIM = {"spec": {"volumeName": "pv-1"}}


def test_hostpath_volume_resolves_to_its_path() -> None:
    source = resolve_volume(a_pod({"name": "data", "hostPath": {"path": "/srv/db"}}), "data",
                            lambda _n: None, lambda _n: None)
    assert (source.kind, source.node_path, source.node, source.member_name) == ("hostPath", "/srv/db", "localhost",
                                                                                 "db-0.data")


@pytest.mark.parametrize("pv_spec", [{"hostPath": {"path": "/var/lib/rancher/k3s/storage/pvc-1_shop_data"}},
                                     {"local": {"path": "/var/lib/rancher/k3s/storage/pvc-1_shop_data"},
                                      "nodeAffinity": {}}])
def test_claims_on_local_path_volumes_resolve_through_the_pv(pv_spec: dict[str, Any]) -> None:
    source = resolve_volume(a_pod({"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}), "data",
                            lambda n: CLAIM if n == "data-db-0" else None,
                            lambda n: {"spec": pv_spec} if n == "pv-1" else None)
    assert source.node_path == "/var/lib/rancher/k3s/storage/pvc-1_shop_data"
    assert (source.claim, source.pv, source.member_name) == ("data-db-0", "pv-1", "data-db-0")


@pytest.mark.parametrize(("volumes", "claims", "pvs", "message"), [
    ([], None, None, "has no volume 'data': its volumes are none"),
    ([{"name": "data", "emptyDir": {}}], None, None, "is emptyDir: only hostPath and local"),
    ([{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}], {"spec": {}}, None, "is not bound"),
    ([{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}], CLAIM,
     {"spec": {"csi": {"driver": "x"}, "capacity": {}}}, "is csi: only hostPath and local"),
])
def test_volumes_that_are_no_directory_say_why(volumes: list[dict[str, Any]], claims: Any, pvs: Any,
                                               message: str) -> None:
    with pytest.raises(VolumeError) as caught:
        resolve_volume(a_pod(*volumes), "data", lambda _n: claims, lambda _n: pvs)
    assert message in str(caught.value)


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    (root / "link").symlink_to("sub/b.bin")
    (root / "sub").chmod(0o750)
    os.chown(root / "a.txt", 1234, 5678) if os.geteuid() == 0 else None
    os.mkfifo(root / "fifo")


def test_copy_then_extract_gives_the_same_tree(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    capture = copy_directory(source, tmp_path / "vol.tar")
    assert (capture.files, capture.content_bytes) == (3, 6 + 300_000)
    assert capture.skipped == ("fifo",)
    assert capture.bytes == (tmp_path / "vol.tar").stat().st_size
    assert oct((tmp_path / "vol.tar").stat().st_mode & 0o777) == "0o600"
    assert tree_digest(source)[2] == capture.tree_sha256
    staging = tmp_path / "restored"
    with (tmp_path / "vol.tar").open("rb") as stream:
        extract_tar(stream, staging)
    assert tree_digest(staging) == (3, 300_006, capture.tree_sha256)
    assert (staging / "link").readlink() == Path("sub/b.bin")
    assert oct((staging / "sub").stat().st_mode & 0o777) == "0o750"
    if os.geteuid() == 0:
        assert ((staging / "a.txt").stat().st_uid, (staging / "a.txt").stat().st_gid) == (1234, 5678)


def test_the_digest_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("one")
    before = tree_digest(tmp_path)[2]
    (tmp_path / "f").write_text("two")
    assert tree_digest(tmp_path)[2] != before


def hostile_tar(member: tarfile.TarInfo, data: bytes = b"") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def member_of(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, linkname
    return member


@pytest.mark.parametrize("member", [
    member_of("../escape"),
    member_of("/etc/evil"),
    member_of("abs-link", tarfile.SYMTYPE, "/etc/passwd"),
    member_of("up-link", tarfile.SYMTYPE, "../../outside"),
    member_of("dev", tarfile.CHRTYPE),
])
def test_hostile_volume_tars_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    with pytest.raises(VolumeError):
        extract_tar(hostile_tar(member, b"x" if member.isreg() else b""), tmp_path / "staging")
    assert not (tmp_path / "escape").exists()


def test_setuid_bits_are_dropped(tmp_path: Path) -> None:
    member = tarfile.TarInfo("tool")
    member.mode = 0o4755
    extract_tar(hostile_tar(member, b"#!/bin/sh\n"), tmp_path / "staging")
    assert oct((tmp_path / "staging" / "tool").stat().st_mode & 0o7777) == "0o755"


def test_place_into_a_missing_or_empty_directory(tmp_path: Path) -> None:
    for target in (tmp_path / "missing", tmp_path / "empty"):
        if target.name == "empty":
            target.mkdir()
        staging = staging_for(target, "t")
        staging.mkdir()
        (staging / "data").write_text("x")
        assert place(staging, target, "keep-existing", "STAMP") == ("placed", None)
        assert (target / "data").read_text() == "x" and not staging.exists()


def test_existing_data_is_kept_or_moved_aside_never_deleted(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    target.mkdir()
    (target / "live").write_text("newer data")
    staging = staging_for(target, "t")
    staging.mkdir()
    (staging / "old").write_text("backup")
    assert place(staging, target, "keep-existing", "S1") == ("kept-existing", None)
    assert (target / "live").read_text() == "newer data" and not staging.exists()
    staging.mkdir()
    (staging / "old").write_text("backup")
    action, moved = place(staging, target, "replace", "S2")
    assert action == "replaced" and moved == tmp_path / "vol.k3s-dr-replaced-S2"
    assert (moved / "live").read_text() == "newer data"
    assert (target / "old").read_text() == "backup"


@pytest.mark.parametrize(("path", "ok"), [
    ("/var/lib/rancher/k3s/storage/pvc-1", True), ("/tmp/drill/db", True), ("/srv/data", True),
    ("relative/path", False), ("/", False), ("/etc", False), ("/etc/cron.d", False), ("/usr/local/x", False),
    ("/var/../etc/x", False), ("/root/.ssh", False), (None, False), ("/srv/data/", True), ("/srv//data", False),
])
def test_a_restore_writes_volumes_only_where_it_is_safe(path: Any, ok: bool) -> None:
    if ok:
        assert str(check_node_path(path)) == path.rstrip("/")
    else:
        with pytest.raises(VolumeError):
            check_node_path(path)
