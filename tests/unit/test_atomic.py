"""dr_lib.atomic on real files: whole replacement, exact modes, no temporary left behind, links never dangling."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from dr_lib.atomic import fsync_dir, replace_symlink, sha256_file, wait_for_flock, write_atomic, write_atomic_with
from tests.unit._as_nobody import NOBODY, run_as_nobody


@pytest.fixture
def strict_umask() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_content_is_replaced_whole_and_nothing_else_is_left(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"old content, longer than the new one")
    write_atomic(target, "neu \N{SNOWMAN}")
    assert target.read_bytes() == "neu \N{SNOWMAN}".encode()
    assert names(tmp_path) == ["state.json"]


@pytest.mark.usefixtures("strict_umask")
@pytest.mark.parametrize("temp_name", [None, ".k3s-dr-tmp-f.prom.1"])
@pytest.mark.parametrize("mode", [0o600, 0o644, 0o755])
def test_the_mode_is_exact_whatever_the_umask(tmp_path: Path, mode: int, temp_name: str | None) -> None:
    target = tmp_path / "f.prom"
    target.write_bytes(b"x")
    target.chmod(0o640)
    write_atomic(target, b"y", mode=mode, temp_name=temp_name)
    assert target.stat().st_mode & 0o777 == mode


def test_readers_see_the_old_file_until_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "ledger.json"
    target.write_text("old")
    seen: dict[str, object] = {}

    def write(handle: BinaryIO) -> None:
        handle.write(b"new")
        seen["final"] = target.read_text()
        seen["names"] = names(tmp_path)

    write_atomic_with(target, write, temp_name=".ledger.json.42.tmp")
    assert seen == {"final": "old", "names": [".ledger.json.42.tmp", "ledger.json"]}
    assert target.read_text() == "new" and names(tmp_path) == ["ledger.json"]


def test_without_a_temp_name_the_temporary_is_a_hidden_random_sibling(tmp_path: Path) -> None:
    target = tmp_path / "kubeconfig"
    seen: list[str] = []
    write_atomic_with(target, lambda handle: seen.extend(names(tmp_path)))
    assert len(seen) == 1 and seen[0].startswith(".kubeconfig.") and seen[0] != ".kubeconfig."
    assert names(tmp_path) == ["kubeconfig"] and target.read_bytes() == b""


def test_a_leftover_under_the_temp_name_is_replaced_not_reused(tmp_path: Path) -> None:
    target = tmp_path / "f"
    leftover = tmp_path / ".k3s-dr-tmp-f.7"
    leftover.write_bytes(b"crashed run, much longer than the new content")
    write_atomic(target, b"new", temp_name=leftover.name)
    assert target.read_bytes() == b"new" and names(tmp_path) == ["f"]


def test_a_failing_writer_removes_the_temporary_keeps_the_old_file_and_propagates(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def write(handle: BinaryIO) -> None:
        handle.write(b"half")
        raise RuntimeError("the source broke")

    for temp_name in (None, ".f.tmp"):
        with pytest.raises(RuntimeError, match="the source broke"):
            write_atomic_with(target, write, temp_name=temp_name)
        assert target.read_bytes() == b"old" and names(tmp_path) == ["f"]


def test_a_failing_rename_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "inside").write_text("x")  # a non-empty directory cannot be renamed over, not even by root
    for temp_name in (None, ".occupied.tmp"):
        with pytest.raises(OSError, match=r"Is a directory|Directory not empty"):
            write_atomic(target, b"new", temp_name=temp_name)
        assert names(tmp_path) == ["occupied"] and names(target) == ["inside"]


def test_a_parent_that_is_a_file_is_an_oserror_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for temp_name in (None, ".f.tmp"):
        with pytest.raises(NotADirectoryError):
            write_atomic(tmp_path / "file" / "f", b"new", temp_name=temp_name)
    assert names(tmp_path) == ["file"] and (tmp_path / "file").read_text() == "x"


def _refused_everywhere(target: Path) -> str:
    for temp_name in (None, ".f.tmp"):
        with pytest.raises(PermissionError):
            write_atomic(target, b"new", temp_name=temp_name)
    return "refused"


def test_a_read_only_directory_is_a_permission_error_and_leaves_the_file() -> None:
    """Root writes into read-only directories: as root, the writes run as nobody (a forked child)."""
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-atomic-"))  # under /tmp: nobody can reach it, unlike tmp_path
    target = work / "f"
    target.write_bytes(b"old")
    try:
        if os.geteuid() == 0:
            os.chown(work, NOBODY, NOBODY)
            os.chown(target, NOBODY, NOBODY)
        work.chmod(0o500)
        if os.geteuid() == 0:
            assert run_as_nobody(lambda: _refused_everywhere(target)) == "refused"
        else:
            _refused_everywhere(target)
        work.chmod(0o700)
        assert target.read_bytes() == b"old" and names(work) == ["f"]
    finally:
        work.chmod(0o700)
        shutil.rmtree(work)


@pytest.mark.parametrize("temp_name", [None, ".k3s-dr-tmp-latest.1"])
def test_a_symlink_is_replaced_in_one_rename(tmp_path: Path, temp_name: str | None) -> None:
    (tmp_path / "a.tar.gz").write_text("a")
    (tmp_path / "b.tar.gz").write_text("b")
    link = tmp_path / "latest"
    replace_symlink(link, "a.tar.gz", temp_name=temp_name)
    replace_symlink(link, "b.tar.gz", temp_name=temp_name)
    assert os.readlink(link) == "b.tar.gz" and link.read_text() == "b"  # relative, and it resolves
    assert names(tmp_path) == ["a.tar.gz", "b.tar.gz", "latest"]


def test_a_regular_file_becomes_the_link_and_a_leftover_temp_link_is_replaced(tmp_path: Path) -> None:
    link = tmp_path / "latest"
    link.write_text("a plain file")
    (tmp_path / ".latest.tmp").symlink_to("stale")
    replace_symlink(link, "target", temp_name=".latest.tmp")
    assert link.is_symlink() and os.readlink(link) == "target"
    assert names(tmp_path) == ["latest"]


def test_a_failing_link_replacement_removes_its_temporary(tmp_path: Path) -> None:
    link = tmp_path / "latest"
    link.mkdir()
    (link / "inside").write_text("x")
    for temp_name in (None, ".latest.tmp"):
        with pytest.raises(OSError, match=r"Is a directory|Directory not empty"):
            replace_symlink(link, "target", temp_name=temp_name)
        assert names(tmp_path) == ["latest"]


def test_sha256_file_matches_hashlib_across_blocks(tmp_path: Path) -> None:
    data = os.urandom(1024) * 2600  # 2.5 MiB: several read blocks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_fsync_dir_accepts_directories_only(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "file")


def test_wait_for_flock_takes_a_free_lock_and_gives_up_on_a_held_one_at_the_deadline(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    holder = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    waiter = os.open(lock, os.O_RDWR)
    ticks = iter(range(100))
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert wait_for_flock(waiter, 3.0, poll=0.001, clock=lambda: float(next(ticks))) is False
        assert next(ticks) == 4  # polled until the clock reached the deadline, then stopped
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert wait_for_flock(waiter, 0.0, poll=0.001) is True
        with pytest.raises(BlockingIOError):
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the waiter holds it now
    finally:
        os.close(holder)
        os.close(waiter)
