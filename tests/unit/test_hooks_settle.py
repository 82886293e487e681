"""A directory restic restored, made fit to place and compared with the listing, on the real file system."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dr_lib.errors import VolumeContentRefused
from dr_lib.hooks.extract import DIR_FLAGS
from dr_lib.hooks.settle import Settled, settle
from dr_lib.hooks.snaplisting import Expected

FILE, DIR, LINK = "file", "dir", "symlink"


@contextmanager
def opened(path: Path) -> Iterator[int]:
    fd = os.open(path, DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


@pytest.fixture
def restored(tmp_path: Path) -> Path:
    """What restic restores as root from a snapshot of a careless volume: setuid, group write, attributes."""
    volume = tmp_path / "vol"
    (volume / "shared" / "deep").mkdir(parents=True)
    (volume / "tool").write_bytes(b"#!/bin/sh\n")
    (volume / "tool").chmod(0o6755)
    (volume / "shared").chmod(0o2777)
    (volume / "shared" / "notes").write_text("notes")
    (volume / "shared" / "notes").chmod(0o666)
    (volume / "shared" / "deep" / "up").symlink_to("../../tool")
    os.setxattr(volume / "tool", "user.planted", b"x")
    os.setxattr(volume / "shared", "user.planted", b"x")
    os.setxattr(volume, "user.planted", b"x")
    volume.chmod(0o1777)
    return volume


EXPECTED = {"tool": Expected(FILE, 10), "shared": Expected(DIR, 0), "shared/notes": Expected(FILE, 5),
            "shared/deep": Expected(DIR, 0), "shared/deep/up": Expected(LINK, 0)}


def test_the_restored_tree_is_stripped_of_what_a_volume_may_not_carry(restored: Path) -> None:
    with opened(restored) as fd:
        assert settle(fd, EXPECTED) == Settled(files=2, content_bytes=15)
    modes = {name: stat.S_IMODE((restored / name).lstat().st_mode) for name in (".", "tool", "shared", "shared/notes")}
    assert modes == {".": 0o1755, "tool": 0o755, "shared": 0o755, "shared/notes": 0o644}
    assert [os.listxattr(restored / name) for name in (".", "tool", "shared")] == [[], [], []]
    assert os.readlink(restored / "shared" / "deep" / "up") == "../../tool"  # links kept as they are


@pytest.mark.parametrize(("change", "reason"), [
    (lambda v: (v / "shared" / "out").symlink_to("../../.."), "'shared/out' is a symbolic link to '../../..'"),
    (lambda v: (v / "abs").symlink_to("/etc/shadow"), "'abs' is a symbolic link to '/etc/shadow'"),
    (lambda v: os.mkfifo(v / "pipe"), "'pipe' is neither a file, a directory nor a link"),
    (lambda v: (v / "extra").write_text(""), "extra not in the snapshot"),
    (lambda v: (v / "shared" / "notes").unlink(), "shared/notes missing"),
    (lambda v: (v / "shared" / "notes").write_text("longer notes"), "shared/notes is a file of 12 bytes"),
    (lambda v: ((v / "tool").unlink(), (v / "tool").mkdir()), "tool is a dir of 0 bytes, the snapshot's a file"),
])
def test_a_tree_other_than_the_listing_is_refused(restored: Path, change: object, reason: str) -> None:
    change(restored)  # type: ignore[operator]
    with opened(restored) as fd, pytest.raises(VolumeContentRefused) as refused:
        settle(fd, EXPECTED)
    assert reason in refused.value.message


def test_a_wide_and_deep_tree_holds_few_descriptors(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    expected: dict[str, Expected] = {}
    for i in range(300):  # wider than the descriptors a careless walk would keep open
        (volume / f"d{i}").mkdir(parents=True)
        expected[f"d{i}"] = Expected(DIR, 0)
    deep = "/".join(f"n{i}" for i in range(60))
    (volume / deep).mkdir(parents=True)
    expected |= {"/".join(f"n{i}" for i in range(k + 1)): Expected(DIR, 0) for k in range(60)}
    before = len(os.listdir("/proc/self/fd"))
    with opened(volume) as fd:
        assert settle(fd, expected) == Settled(0, 0)
    assert len(os.listdir("/proc/self/fd")) == before
