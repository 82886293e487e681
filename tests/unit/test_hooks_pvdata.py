"""Volume data: resolving a pod volume to its node directory; the tree digest; unpacking a tar safely."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dr_lib.errors import IntegrityError, VolumeContentRefused, VolumeError
from dr_lib.hooks.extract import extract_stream, link_stays_inside
from dr_lib.hooks.pvdata import resolve_volume, tree_digest
from dr_lib.hooks.tarstream import TarStream
from dr_lib.hooks.treedigest import TreeDigest, order_key
from dr_lib.hooks.treescan import walk


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
    (root / "z.txt").write_text("last at the top, but before sub's entries\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    (root / "sub" / "c").write_text("c")
    (root / "link").symlink_to("sub/b.bin")
    (root / "sub").chmod(0o750)
    os.chown(root / "a.txt", 1234, 5678) if os.geteuid() == 0 else None
    os.mkfifo(root / "fifo")


def v1_tar(root: Path) -> io.BytesIO:
    """A volume tar as format-v1 archives hold it (the previous release's copy: PAX, '.' first, walk order)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, meta in walk(root).nodes.items():
            info = tar.gettarinfo(str(root / rel) if rel != "." else str(root), arcname=rel)
            with (root / rel).open("rb") if meta.kind == "f" else io.BytesIO() as data:
                tar.addfile(info, data if meta.kind == "f" else None)
    buffer.seek(0)
    return buffer


def unpack(stream: io.BytesIO, staging: Path) -> Any:
    staging.mkdir(mode=0o700)
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return extract_stream(TarStream(stream.read, "test"), fd)
    finally:
        os.close(fd)


def test_the_canonical_order_is_the_walk_order(tmp_path: Path) -> None:
    make_tree(tmp_path)
    walked = list(walk(tmp_path).nodes)
    assert walked == sorted(walked, key=order_key)
    assert walked.index("z.txt") < walked.index("sub/b.bin")  # a directory's entries before its subdirectories'


def test_unpacking_gives_the_same_tree_and_digest(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    files, content, digest = tree_digest(source)
    assert (files, content) == (5, 6 + 42 + 300_000 + 1)
    extracted = unpack(v1_tar(source), tmp_path / "restored")
    assert extracted.digest.summary() == (files, content, digest)
    assert tree_digest(tmp_path / "restored") == (files, content, digest)
    assert (tmp_path / "restored" / "link").readlink() == Path("sub/b.bin")
    assert oct((tmp_path / "restored" / "sub").stat().st_mode & 0o777) == "0o750"
    assert not (tmp_path / "restored" / "fifo").exists()  # special files are left out, and listed
    assert walk(source).specials == ["fifo"]
    if os.geteuid() == 0:
        assert ((tmp_path / "restored" / "a.txt").stat().st_uid, (tmp_path / "restored" / "a.txt").stat().st_gid) \
            == (1234, 5678)


def test_the_digest_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("one")
    before = tree_digest(tmp_path)[2]
    (tmp_path / "f").write_text("two")
    assert tree_digest(tmp_path)[2] != before


def test_the_digest_is_independent_of_arrival_order() -> None:
    one, two = TreeDigest(), TreeDigest()
    for tree, order in ((one, ["a", "b/c", "b"]), (two, ["b", "b/c", "a"])):
        tree.directory(".")
        for rel in order:
            tree.file(rel, 1, "0" * 64) if rel != "b" else tree.directory(rel)
    assert one.hexdigest() == two.hexdigest()


def hostile_tar(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def member_of(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.mode = kind, linkname, mode
    return member


@pytest.mark.parametrize(("members", "message"), [
    ([member_of("../escape")], "not a plain relative path"),
    ([member_of("/etc/evil")], "not a plain relative path"),
    ([member_of("a/../../escape")], "not a plain relative path"),
    ([member_of("abs-link", tarfile.SYMTYPE, "/etc/passwd")], "outside the volume"),
    ([member_of("up-link", tarfile.SYMTYPE, "../../outside")], "outside the volume"),
    ([member_of("d", tarfile.DIRTYPE), member_of("d/up", tarfile.SYMTYPE, "../../x")], "outside the volume"),
    ([member_of("dev", tarfile.CHRTYPE)], "a character device"),
    ([member_of("fifo", tarfile.FIFOTYPE)], "a FIFO"),
    ([member_of("a"), member_of("hard", tarfile.LNKTYPE, "a")], "a hard link"),
    ([member_of("a"), member_of("a")], "appears twice"),
    ([member_of("l", tarfile.SYMTYPE, "."), member_of("l/x")], "before it was created as a directory"),
    ([member_of("nodir/x")], "before it was created as a directory"),
])
def test_hostile_volume_tars_are_refused(tmp_path: Path, members: list[tarfile.TarInfo], message: str) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(VolumeContentRefused) as caught:
        unpack(hostile_tar(*[(m, b"x" if m.type == tarfile.REGTYPE else b"") for m in members]),
               tmp_path / "staging")
    assert message in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [*before, "staging"]  # nothing beside the staging dir


def test_setuid_setgid_and_group_or_other_write_never_come_back(tmp_path: Path) -> None:
    extracted = unpack(hostile_tar((member_of("tool", mode=0o4755), b"#!/bin/sh\n"),
                                   (member_of("shared", tarfile.DIRTYPE, mode=0o2777), b""),
                                   (member_of("shared/w", mode=0o666), b"w")), tmp_path / "staging")
    modes = {name: oct((tmp_path / "staging" / name).stat().st_mode & 0o7777) for name in ("tool", "shared",
                                                                                           "shared/w")}
    assert modes == {"tool": "0o755", "shared": "0o755", "shared/w": "0o644"}
    assert extracted.digest.files == 2


@pytest.mark.parametrize(("rel", "target", "inside"), [
    ("a", "b", True), ("d/a", "../b", True), ("d/a", "../../b", False), ("a", "/etc/passwd", False),
    ("d/e/a", "../../x/../y", True), ("a", "..", False), ("a", "", False),
])
def test_which_links_stay_inside(rel: str, target: str, inside: bool) -> None:
    assert link_stays_inside(rel, target) is inside


def test_oversized_names_and_headers_are_refused_not_read_into_memory(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="a name longer than 4096 bytes"):
        unpack(hostile_tar((member_of("x" * 5000), b"x")), tmp_path / "staging")
