"""Where a restored volume may go, on the real file system: below the roots only, no link followed, nothing replaced."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dr_lib.errors import OutsideRoots, VolumeRefused
from dr_lib.hooks.confine import check_dataset, locate, open_parent, rename_noreplace
from dr_lib.hooks.extract import Owner
from dr_lib.hooks.tarstream import TarStream
from dr_lib.hooks.volrestore import place, stage, unpack


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    storage = tmp_path / "storage"
    storage.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (storage / "evil").symlink_to(outside)
    return storage, outside


@pytest.mark.parametrize(("node_path", "reason"), [
    ("relative/path", "not a plain absolute path"),
    ("/", "not a plain absolute path"),
    ("{storage}/../outside/x", "not a plain absolute path"),
    ("{storage}/./x", "not a plain absolute path"),
    ("{storage}//x", "not a plain absolute path"),
    ("/{storage}/x", "not a plain absolute path"),  # a leading "//": its meaning is the system's
    ("{storage}/x/", "not a plain absolute path"),
    ("{storage}", "outside the storage roots"),  # the root itself is never a volume
    ("{storage}/evil/x", "resolves to {outside}/x) is outside the storage roots"),
    ("/var/lib/rancher/k3s/server/manifests/evil", "is outside the storage roots"),
    ("/var/lib/rancher/k3s/agent/pod-manifests", "is outside the storage roots"),
    ("/var/spool/cron/crontabs", "is outside the storage roots"),
    ("/root", "is outside the storage roots"),
    ("/home/x/.ssh", "is outside the storage roots"),
    (None, "not a plain absolute path"),
    (7, "not a plain absolute path"),
])
def test_targets_outside_the_roots_are_refused_with_path_and_reason(roots: tuple[Path, Path], node_path: object,
                                                                     reason: str) -> None:
    storage, outside = roots
    if isinstance(node_path, str):
        node_path = node_path.format(storage=storage, outside=outside)
    with pytest.raises(OutsideRoots) as caught:
        locate(node_path, [str(storage)])
    assert reason.format(storage=storage, outside=outside) in str(caught.value)
    assert repr(node_path) in str(caught.value)


def test_a_target_below_a_root_is_located_and_its_parents_made_there(roots: tuple[Path, Path]) -> None:
    storage, _outside = roots
    target = locate(f"{storage}/a/b/vol", ["/nonexistent-root", str(storage)])
    assert (target.root, target.parents, target.name) == (str(storage), ("a", "b"), "vol")
    fd = open_parent(target)
    os.close(fd)
    assert (storage / "a" / "b").is_dir() and not (storage / "a" / "b" / "vol").exists()


def test_a_link_planted_after_the_check_is_not_followed(roots: tuple[Path, Path]) -> None:
    storage, outside = roots
    target = locate(f"{storage}/late/vol", [str(storage)])
    (storage / "late").symlink_to(outside)  # swapped in between the check and the work
    with pytest.raises(OutsideRoots, match="component 'late' is a symbolic link: refused"):
        open_parent(target)
    assert listing(outside) == []


def staged_with(target_dir: Path, storage: Path, files: dict[str, bytes]) -> tuple[object, str]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    staged = stage(locate(str(target_dir), [str(storage)]), "tok")
    extracted = unpack(staged, buffer.read, where="test")
    assert isinstance(TarStream, type)
    return staged, extracted.digest.hexdigest()


def test_placed_into_a_missing_directory_with_its_digest_checked(roots: tuple[Path, Path]) -> None:
    storage, _ = roots
    staged, digest = staged_with(storage / "vol", storage, {"data": b"x"})
    outcome = place(staged, expected=digest, root=Owner(0o2775, os.getuid(), os.getgid(), 0), policy="keep-existing",
                    stamp="S")
    staged.close()
    assert (outcome["action"], outcome["verified"]) == ("placed", True)
    assert (storage / "vol" / "data").read_bytes() == b"x"
    assert oct((storage / "vol").stat().st_mode & 0o7777) == "0o755"  # no setgid, no group write
    assert listing(storage) == ["evil", "vol", "vol/data"]


def test_a_wrong_digest_puts_nothing_in_place(roots: tuple[Path, Path]) -> None:
    storage, _ = roots
    staged, _digest = staged_with(storage / "vol", storage, {"data": b"x"})
    with pytest.raises(VolumeRefused, match="differs from the backup"):
        place(staged, expected="0" * 64, root=None, policy="replace", stamp="S")
    staged.close()
    assert listing(storage) == ["evil"]


@pytest.mark.parametrize("policy", ["keep-existing", "replace"])
def test_an_existing_empty_directory_is_never_replaced(roots: tuple[Path, Path], policy: str) -> None:
    storage, _ = roots
    (storage / "vol").mkdir()
    inode = (storage / "vol").stat().st_ino
    staged, digest = staged_with(storage / "vol", storage, {"data": b"x"})
    outcome = place(staged, expected=digest, root=None, policy=policy, stamp="S")
    staged.close()
    if policy == "keep-existing":
        assert outcome["action"] == "kept-existing"
        assert (storage / "vol").stat().st_ino == inode and listing(storage / "vol") == []
    else:  # moved aside, never deleted, then placed
        assert outcome["action"] == "replaced"
        assert (storage / "vol.k3s-dr-replaced-S").stat().st_ino == inode
        assert (storage / "vol" / "data").read_bytes() == b"x"


def test_existing_data_is_kept_or_moved_aside_never_deleted(roots: tuple[Path, Path]) -> None:
    storage, _ = roots
    (storage / "vol").mkdir()
    (storage / "vol" / "live").write_text("newer data")
    staged, digest = staged_with(storage / "vol", storage, {"old": b"backup"})
    assert place(staged, expected=digest, root=None, policy="keep-existing", stamp="S1")["action"] == "kept-existing"
    staged.close()
    assert (storage / "vol" / "live").read_text() == "newer data"
    staged, digest = staged_with(storage / "vol", storage, {"old": b"backup"})
    outcome = place(staged, expected=digest, root=None, policy="replace", stamp="S2")
    staged.close()
    assert outcome["moved_aside"] == f"{storage}/vol.k3s-dr-replaced-S2"
    assert (storage / "vol.k3s-dr-replaced-S2" / "live").read_text() == "newer data"
    assert (storage / "vol" / "old").read_bytes() == b"backup"
    assert not [p for p in storage.iterdir() if p.name.startswith(".k3s-dr-restoring-")]


def test_a_file_or_link_where_the_volume_goes_is_not_touched(roots: tuple[Path, Path]) -> None:
    storage, _ = roots
    (storage / "vol").write_text("a file")
    staged, digest = staged_with(storage / "vol", storage, {"data": b"x"})
    with pytest.raises(VolumeRefused, match="exists and is a file: not touched"):
        place(staged, expected=digest, root=None, policy="replace", stamp="S")
    staged.close()
    assert (storage / "vol").read_text() == "a file"


def test_rename_never_replaces_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "target").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileExistsError):
            rename_noreplace(fd, "new", "target")
    finally:
        os.close(fd)
    assert (tmp_path / "new").is_dir()


@pytest.mark.parametrize(("dataset", "ok"), [
    ("tank/k3s/vol1", True), ("tank/k3s", False), ("tank/other/vol", False), ("tank/k3s/vol@snap", False),
    ("-o/tank/k3s/x", False), ("tank/k3s/../x", False), (None, False), ("tank/k3sx/vol", False),
])
def test_zfs_datasets_only_below_configured_ones(dataset: object, ok: bool) -> None:
    if ok:
        assert check_dataset(dataset, ["tank/k3s"]) == dataset
    else:
        with pytest.raises(OutsideRoots):
            check_dataset(dataset, ["tank/k3s"])
