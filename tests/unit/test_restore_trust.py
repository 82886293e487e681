"""What boot-time restore trusts (dr_lib.restore.trust) and restore's fewer-user-objects warning
(dr_lib.restore.userloss), on real archive files and links built to mislead.

The same refusals against a real API server, nothing applied: tests/integration/test_restore_auto_trust.py."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _archive_factory import CONFIGMAPS, NAMESPACES, good_archive

from dr_lib.archive import format as fmt
from dr_lib.archive import verify_archive, write_sidecar
from dr_lib.errors import IntegrityError, SnapshotRefused
from dr_lib.restore.trust import check_digest, trust_snapshot
from dr_lib.restore.userloss import fewer_user_objects

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
SNAPSHOT = "k3s-cluster-snapshot.tar.gz"
CONTENT = {NAMESPACES: [NAMESPACES.obj("shop")], CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}", "shop") for i in range(3)]}


def verified_archive(directory: Path, created: str = "2026-11-28T10:00:00Z",
                     content: dict | None = None) -> Path:  # type: ignore[type-arg]
    directory.mkdir(parents=True, exist_ok=True)
    path = good_archive(directory, content or CONTENT, created=created)
    write_sidecar(verify_archive(path), NOW)
    return path


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


def link(backups: Path, target: str | Path) -> Path:
    backups.mkdir(parents=True, exist_ok=True)
    path = backups / SNAPSHOT
    path.symlink_to(target)
    return path


def _elsewhere(backups: Path) -> Path:
    return link(backups, verified_archive(backups.parent / "elsewhere"))  # absolute, verified, outside


def _relative_escape(backups: Path) -> Path:
    outside = verified_archive(backups.parent / "elsewhere")
    return link(backups, f"../elsewhere/{outside.name}")


def _through_a_subdirectory(backups: Path) -> Path:
    inner = verified_archive(backups / "sub")
    return link(backups, f"sub/{inner.name}")


def _a_directory(backups: Path) -> Path:
    (backups / "k3s-dr-20261128T100000Z.tar.gz").mkdir(parents=True)
    return link(backups, "k3s-dr-20261128T100000Z.tar.gz")


def _a_fifo(backups: Path) -> Path:
    backups.mkdir(parents=True)
    os.mkfifo(backups / "k3s-dr-20261128T100000Z.tar.gz")
    return link(backups, "k3s-dr-20261128T100000Z.tar.gz")


def _not_our_name(backups: Path) -> Path:
    archive = verified_archive(backups)
    shutil.copy(archive, backups / "evil.tar.gz")
    write_sidecar(verify_archive(backups / "evil.tar.gz"), NOW)
    return link(backups, "evil.tar.gz")


def _never_verified(backups: Path) -> Path:
    backups.mkdir(parents=True)
    return link(backups, good_archive(backups, CONTENT).name)


def _someone_elses_sidecar(backups: Path) -> Path:
    archive = verified_archive(backups)
    copy = backups / "k3s-dr-20261128T110000Z.tar.gz"
    shutil.copy(archive, copy)
    shutil.copy(backups / fmt.sidecar_name(archive.name), backups / fmt.sidecar_name(copy.name))
    return link(backups, copy.name)


def _grown_since(backups: Path) -> Path:
    archive = verified_archive(backups)
    with archive.open("ab") as handle:
        handle.write(b"\0")
    return link(backups, archive.name)


def _a_loop(backups: Path) -> Path:
    backups.mkdir(parents=True)
    (backups / "a").symlink_to("b")
    (backups / "b").symlink_to("a")
    return link(backups, "a")


# (case, how the snapshot link is planted, the reason named)
REFUSED: list[tuple[str, Callable[[Path], Path], str]] = [
    ("an absolute link to a verified archive elsewhere", _elsewhere, "outside the backup directory"),
    ("a relative link out of the directory", _relative_escape, "outside the backup directory"),
    ("a link into a subdirectory", _through_a_subdirectory, "outside the backup directory"),
    ("a directory named like an archive", _a_directory, "not a regular file"),
    ("a FIFO named like an archive", _a_fifo, "not a regular file"),
    ("a verified copy not named like ours", _not_our_name, "not named like a k3s-dr archive"),
    ("an archive nobody verified", _never_verified, "no readable verification record"),
    ("a copy carrying another archive's sidecar", _someone_elses_sidecar, "is for 'k3s-dr-20261128T100000Z"),
    ("an archive changed after verification (size)", _grown_since, "it changed after it was verified"),
    ("a link loop", _a_loop, "cannot be resolved"),
]


@pytest.mark.parametrize(("plant", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_auto_restore_refuses_what_it_did_not_make(backups: Path, plant: Callable[[Path], Path],
                                                   reason: str) -> None:
    planted = plant(backups)
    with pytest.raises(SnapshotRefused) as caught:
        trust_snapshot(planted, backups)
    assert reason in caught.value.message
    assert isinstance(caught.value, IntegrityError)  # exit 8


def test_an_archive_it_wrote_and_verified_is_trusted_through_links(backups: Path, tmp_path: Path) -> None:
    archive = verified_archive(backups)
    snapshot = link(backups, archive.name)
    trusted = trust_snapshot(snapshot, backups)
    assert trusted.path == archive.resolve()
    check_digest(trusted, verify_archive(trusted.path).sha256)
    # backup.dir configured through a symbolic link: the same directory once resolved
    (tmp_path / "via-link").symlink_to(backups)
    assert trust_snapshot(tmp_path / "via-link" / SNAPSHOT, tmp_path / "via-link").path == archive.resolve()


def test_same_size_other_content_fails_the_digest(backups: Path) -> None:
    archive = verified_archive(backups)
    trusted = trust_snapshot(link(backups, archive.name), backups)
    data = bytearray(archive.read_bytes())
    data[-20] ^= 0xFF  # the gzip trailer: same size, another file
    archive.write_bytes(bytes(data))
    with pytest.raises(SnapshotRefused, match="sha256 is not the one its verification record holds"):
        check_digest(trusted, hashlib.sha256(archive.read_bytes()).hexdigest())


# (case, user objects of an older archive, of the archive before this one, of this one, threshold, warned)
WARNINGS: list[tuple[str, int, int, int, float, bool]] = [
    ("a wiped cluster's backup after a good one", 9, 4, 0, 0.5, True),
    ("none after some, even with threshold 1", 9, 4, 0, 1.0, True),
    ("half as many", 9, 4, 2, 0.5, True),
    ("a quarter fewer", 9, 4, 3, 0.5, False),
    ("as many", 9, 4, 4, 0.0, False),
    ("more", 9, 1, 4, 0.5, False),
    ("after another wiped backup: compared with the last that held some", 9, 0, 0, 0.5, True),
    ("an empty cluster all along", 0, 0, 0, 0.5, False),
]


@pytest.mark.parametrize(("oldest", "before", "now", "threshold", "warned"), [w[1:] for w in WARNINGS],
                         ids=[w[0] for w in WARNINGS])
def test_restore_warns_when_its_archive_holds_far_fewer_user_objects(backups: Path, oldest: int, before: int,
                                                                     now: int, threshold: float,
                                                                     warned: bool) -> None:
    def content(users: int) -> dict:  # type: ignore[type-arg]
        return {NAMESPACES: [NAMESPACES.obj("kube-system")],
                CONFIGMAPS: [CONFIGMAPS.obj("kube-root-ca.crt", "shop")] + [CONFIGMAPS.obj(f"u{i}", "shop")
                                                                           for i in range(users)]}

    first = verified_archive(backups, "2026-11-28T08:00:00Z", content(oldest))
    earlier = verified_archive(backups, "2026-11-28T09:00:00Z", content(before))
    this = verify_archive(good_archive(backups, content(now), created="2026-11-28T10:00:00Z"))
    warning = fewer_user_objects(this, backups, threshold)
    assert (warning is not None) is warned, warning
    if warning is not None:
        compared, held = (earlier, before) if before else (first, oldest)
        assert f"holds {now} user objects" in warning and compared.name in warning and f"({held})" in warning
    assert fewer_user_objects(this, None, threshold) is None
    assert fewer_user_objects(this, backups / "missing", threshold) is None
