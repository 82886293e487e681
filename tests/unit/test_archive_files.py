"""Writer atomicity, sidecars, links and the lock: the file-system side of the archive package."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _archive_factory import CONFIGMAPS, good_archive, manifest_dict, resources_member

from dr_lib.archive import exclusive_lock, is_verified, promote, read_link, read_sidecar, verify_archive, write_sidecar
from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import atomic_write, ensure_private_dir, replace_symlink
from dr_lib.archive.manifest import manifest_from_dict
from dr_lib.archive.writer import write_archive
from dr_lib.errors import EnvironmentProblem, IntegrityError, LockBusy

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
CONTENT = {CONFIGMAPS: [CONFIGMAPS.obj("a"), CONFIGMAPS.obj("b")]}


def test_writer_never_overwrites_an_archive_and_leaves_no_temp_file(tmp_path: Path) -> None:
    first = good_archive(tmp_path, CONTENT)
    before = first.read_bytes()
    with pytest.raises(EnvironmentProblem, match="cannot write the archive"):
        good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("other")]})
    assert first.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".spool")) == [first.name]


def test_writer_failure_midway_removes_its_temp_file(tmp_path: Path) -> None:
    entry, member = resources_member(CONFIGMAPS, CONTENT[CONFIGMAPS])
    manifest = manifest_from_dict(manifest_dict([entry]))
    source = tmp_path / "spooled"
    source.write_bytes(member.data + b"extra")  # size differs from the manifest: the writer stops
    with pytest.raises(IntegrityError, match="the manifest says otherwise"):
        write_archive(tmp_path, manifest, {entry["path"]: source})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spooled"]


def test_sidecar_binds_the_verdict_to_the_file(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    assert not is_verified(path)
    sidecar = write_sidecar(verify_archive(path), NOW)
    assert sidecar.objects == 2 and sidecar.verified_at == "2026-11-28T11:00:00Z"
    assert read_sidecar(path) == sidecar
    assert is_verified(path)
    assert (tmp_path / fmt.sidecar_name(path.name)).stat().st_mode & 0o777 == 0o600
    with path.open("ab") as handle:
        handle.write(b"x")
    assert not is_verified(path)


def test_a_malformed_sidecar_means_not_verified(tmp_path: Path) -> None:
    path = good_archive(tmp_path, CONTENT)
    (tmp_path / fmt.sidecar_name(path.name)).write_text("{not json")
    assert read_sidecar(path) is None
    assert not is_verified(path)


def test_promote_points_both_links_at_the_archive_relatively(tmp_path: Path) -> None:
    first = good_archive(tmp_path, CONTENT)
    second = good_archive(tmp_path, CONTENT, created="2026-11-28T10:05:00Z")
    names = ["latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz"]
    assert [read_link(tmp_path, n).state for n in names] == ["missing", "missing"]
    promote(tmp_path, first.name, names)
    states = promote(tmp_path, second.name, names)
    assert [(s.state, s.target) for s in states] == [("ok", second.name)] * 2
    assert os.readlink(tmp_path / names[0]) == second.name  # relative: the directory can move
    assert verify_archive(tmp_path / names[1]).objects == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(fmt.TEMP_PREFIX)]


def test_promote_refuses_a_missing_archive_and_keeps_the_links(tmp_path: Path) -> None:
    first = good_archive(tmp_path, CONTENT)
    promote(tmp_path, first.name, ["latest"])
    with pytest.raises(FileNotFoundError):
        promote(tmp_path, "k3s-dr-20990101T000000Z.tar.gz", ["latest"])
    assert read_link(tmp_path, "latest").target == first.name


def test_link_states_are_reported(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to("gone.tar.gz")
    (tmp_path / "plain").write_text("x")
    (tmp_path / "outside").symlink_to("/etc/hostname")
    assert read_link(tmp_path, "dangling").state == "dangling"
    assert read_link(tmp_path, "plain").state == "not-a-link"
    assert read_link(tmp_path, "outside").state == "outside"
    replace_symlink(tmp_path / "plain", "gone.tar.gz")  # a regular file is replaced by the link
    assert read_link(tmp_path, "plain").state == "dangling"


def test_atomic_write_replaces_and_keeps_mode_private(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_private_dir_is_created_or_tightened(tmp_path: Path) -> None:
    created = tmp_path / "a" / "b"
    assert ensure_private_dir(created) is False
    assert created.stat().st_mode & 0o777 == 0o700
    created.chmod(0o755)
    assert ensure_private_dir(created) is True
    assert created.stat().st_mode & 0o777 == 0o700


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "run" / "k3s-dr.lock"
    with exclusive_lock(lock, "back up"), \
            pytest.raises(LockBusy, match=rf"cannot restore: pid {os.getpid()} \(back up\) holds the lock"), \
            exclusive_lock(lock, "restore"):
        pass
    with exclusive_lock(lock, "restore"):
        pass


def test_lock_held_by_another_process_is_busy_and_freed_by_sigkill(tmp_path: Path) -> None:
    lock = tmp_path / "k3s-dr.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from dr_lib.archive import exclusive_lock\n"
         f"with exclusive_lock({str(lock)!r}, 'back up'):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"), exclusive_lock(lock, "back up"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    deadline = time.monotonic() + 5
    while True:  # the kernel drops a dead process's flock at once; the loop only bounds a slow reaper
        try:
            with exclusive_lock(lock, "back up"):
                break
        except LockBusy:
            assert time.monotonic() < deadline, "lock not released after SIGKILL"
            time.sleep(0.05)


def test_an_unusable_lock_path_is_an_environment_problem(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(EnvironmentProblem, match="cannot open the lock file"), \
            exclusive_lock(tmp_path / "file" / "lock", "back up"):
        pass
