"""The ZFS backend on its command lines only: no ZFS pool exists on our machines.

A recording runner (a fake, named as such) stands in for the ``zfs`` binary: it returns canned
output and records each argv, so these tests pin the exact commands a backup and a restore run.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import pytest

from dr_lib.errors import VolumeError
from dr_lib.hooks.zfs import ZfsBackend

LISTING = b"tank\t/tank\ntank/k3s\t/var/lib/rancher/k3s/storage\ntank/k3s/pvc-1\t/var/lib/rancher/k3s/storage/pvc-1\n"


class FakeZfs:
    """Records argv; answers ``zfs list``/``get``/``send`` with canned bytes; fails what ``fail`` names."""

    def __init__(self, existing: set[str] | None = None, fail: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.received = b""
        self.existing = existing or set()
        self.fail = fail

    def __call__(self, argv: Sequence[str], *, stdin: IO[bytes] | None = None,
                 stdout: Callable[[bytes], None] | None = None) -> bytes:
        self.calls.append(list(argv))
        if self.fail and self.fail in argv:
            raise VolumeError(f"zfs {self.fail} failed")
        if argv[:2] == ["zfs", "list"] and "-t" in argv:
            return LISTING
        if argv[:2] == ["zfs", "list"]:
            if argv[-1] not in self.existing:
                raise VolumeError("dataset does not exist")
            return argv[-1].encode()
        if argv[:2] == ["zfs", "send"] and stdout is not None:
            stdout(b"ZFS-STREAM-" * 1000)
        if argv[:2] == ["zfs", "get"]:
            return b"123456\n"
        if argv[:2] == ["zfs", "receive"] and stdin is not None:
            self.received = stdin.read()
        return b""


def test_capture_snapshots_sends_and_always_destroys_the_snapshot(tmp_path: Path) -> None:
    fake = FakeZfs()
    capture = ZfsBackend(run=fake).capture("/var/lib/rancher/k3s/storage/pvc-1", tmp_path / "v.zfs", "20260101T000000Z")
    snap = "tank/k3s/pvc-1@k3s-dr-20260101T000000Z"
    assert fake.calls == [
        ["zfs", "list", "-H", "-p", "-o", "name,mountpoint", "-t", "filesystem"],
        ["zfs", "snapshot", snap],
        ["zfs", "send", "-c", snap],
        ["zfs", "get", "-H", "-p", "-o", "value", "referenced", snap],
        ["zfs", "destroy", snap],
    ]
    assert capture.bytes == 11_000 and (tmp_path / "v.zfs").stat().st_size == 11_000
    assert capture.content_bytes == 123456 and capture.files is None
    assert capture.extra == {"dataset": "tank/k3s/pvc-1", "snapshot": snap}


def test_a_failed_send_still_destroys_the_snapshot(tmp_path: Path) -> None:
    fake = FakeZfs(fail="send")
    with pytest.raises(VolumeError):
        ZfsBackend(run=fake).capture("/var/lib/rancher/k3s/storage/pvc-1", tmp_path / "v.zfs", "S")
    assert fake.calls[-1] == ["zfs", "destroy", "tank/k3s/pvc-1@k3s-dr-S"]


def test_only_a_dataset_mountpoint_can_be_sent() -> None:
    with pytest.raises(VolumeError) as caught:
        ZfsBackend(run=FakeZfs()).dataset_for("/var/lib/rancher/k3s/storage/pvc-1/subdir")
    assert "not the mountpoint of a ZFS dataset" in str(caught.value)


def test_restore_receives_under_a_temporary_name_then_renames_into_place() -> None:
    fake = FakeZfs()
    backend = ZfsBackend(run=fake)
    staging = backend.receive(io.BytesIO(b"STREAM"), "tank/k3s/pvc-1")
    assert staging == "tank/k3s/pvc-1-k3s-dr-restoring"
    assert fake.received == b"STREAM"
    assert backend.place(staging, "tank/k3s/pvc-1", "keep-existing", "S", "/var/lib/x") == ("placed", None)
    assert fake.calls[1:] == [
        ["zfs", "list", "-H", "-o", "name", "tank/k3s/pvc-1"],
        ["zfs", "rename", "tank/k3s/pvc-1-k3s-dr-restoring", "tank/k3s/pvc-1"],
        ["zfs", "set", "mountpoint=/var/lib/x", "tank/k3s/pvc-1"],
        ["zfs", "mount", "tank/k3s/pvc-1"],
    ]
    assert fake.calls[0] == ["zfs", "receive", "-u", "-F", "tank/k3s/pvc-1-k3s-dr-restoring"]


def test_an_existing_dataset_is_kept_or_renamed_aside() -> None:
    fake = FakeZfs(existing={"tank/v"})
    assert ZfsBackend(run=fake).place("tank/v-k3s-dr-restoring", "tank/v", "keep-existing", "S") == (
        "kept-existing", None)
    assert fake.calls[-1] == ["zfs", "destroy", "-r", "tank/v-k3s-dr-restoring"]
    fake = FakeZfs(existing={"tank/v"})
    assert ZfsBackend(run=fake).place("tank/v-k3s-dr-restoring", "tank/v", "replace", "S") == (
        "replaced", "tank/v-k3s-dr-replaced-S")
    assert ["zfs", "rename", "tank/v", "tank/v-k3s-dr-replaced-S"] in fake.calls
