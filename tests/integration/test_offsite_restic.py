"""Offsite copies in real restic repositories: a local directory and S3 (versitygw)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.archive.writer import write_archive
from dr_lib.config import OffsiteConfig, OffsiteTargetConfig
from dr_lib.errors import ExitCode, IntegrityError, RemoteAuthError, UsageError
from dr_lib.offsite.members import extract_members
from dr_lib.offsite.pull import pull
from dr_lib.offsite.push import push_archive
from dr_lib.offsite.targets import open_target
from k3s_dr_testbed.s3.server import S3Server
from tests.integration._offsite_env import BASE, aws_env, make_archive, new_bucket, restic_or_skip, s3_server

__all__ = ["aws_env", "s3_server"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def restic_offsite(tmp_path: Path, repository: str, *, keep: int = 24) -> OffsiteConfig:
    restic_or_skip()
    password = tmp_path / "restic.pass"
    if not password.exists():
        password.write_text("correct horse battery staple\n")
    target = OffsiteTargetConfig(type="restic", repository=repository, password_file=str(password), keep=keep,
                                 keep_daily=0, keep_weekly=0, timeout="5m")
    return OffsiteConfig(targets={"home": target})


def test_local_repository_round_trip_and_dedup(tmp_path: Path) -> None:
    offsite = restic_offsite(tmp_path, str(tmp_path / "repo"))
    first = make_archive(tmp_path / "backups", 0, objects=300, payload=2000, incompressible=True)
    report = push_archive(first, offsite, None, now=BASE)
    outcome = report.reports[0].outcome
    assert outcome is not None, report.to_dict()
    assert outcome.details["initialized"] and outcome.details["checked"]
    # An hour later, nothing changed but the time: restic stores (almost) nothing new.
    second = _same_content_next_hour(first, tmp_path / "backups")
    again = push_archive(second, offsite, None, now=BASE + timedelta(hours=1)).reports[0].outcome
    assert again is not None and again.action == "pushed"
    assert again.bytes_sent < outcome.bytes_sent / 20, (again.bytes_sent, outcome.bytes_sent)
    copies = open_target("home", offsite).list_copies()
    assert [c.archive for c in copies] == [second.name, first.name] and all(c.good for c in copies)
    result = pull(offsite, "home", first.name, tmp_path / "restored", None, now=BASE)
    assert result.identical and _sha(result.path) == _sha(first)


def _same_content_next_hour(archive: Path, directory: Path) -> Path:
    """The archive a backup one hour later writes when nothing changed: same members, new time."""
    members = directory / ".members"
    manifest = extract_members(archive, members)
    later = dataclasses.replace(manifest, created=fmt.format_time(manifest.created_at + timedelta(hours=1)))
    path = write_archive(directory, later, {m: members / m for m in later.member_paths()})
    write_sidecar(verify_archive(path), BASE)
    return path


def test_retention_forgets_and_prunes_by_the_rotation_rules(tmp_path: Path) -> None:
    offsite = restic_offsite(tmp_path, str(tmp_path / "repo"), keep=2)
    archives = [make_archive(tmp_path / "backups", hours) for hours in range(4)]
    for number, archive in enumerate(archives):
        report = push_archive(archive, offsite, None, now=BASE + timedelta(hours=number))
        assert not report.failures, report.to_dict()
    assert report.reports[0].retention is not None
    assert report.reports[0].retention.deleted == (archives[1].name,)
    assert [c.archive for c in open_target("home", offsite).list_copies()] == [archives[3].name, archives[2].name]


def test_wrong_password_and_missing_password_file(tmp_path: Path) -> None:
    offsite = restic_offsite(tmp_path, str(tmp_path / "repo"))
    push_archive(make_archive(tmp_path / "backups"), offsite, None, now=BASE)
    (tmp_path / "restic.pass").write_text("wrong\n")
    with pytest.raises(RemoteAuthError) as caught:
        open_target("home", offsite).list_copies()
    assert caught.value.exit_code == ExitCode.USAGE and "password is wrong" in str(caught.value)
    assert "wrong\n" not in str(caught.value)
    (tmp_path / "restic.pass").unlink()
    with pytest.raises(UsageError, match="password_file cannot be read"):
        open_target("home", offsite).list_copies()


def test_tampered_repository_fails_verification(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    offsite = restic_offsite(tmp_path, str(repo))
    archive = make_archive(tmp_path / "backups", objects=50, payload=4000, incompressible=True)
    assert not push_archive(archive, offsite, None, now=BASE).failures
    pack = max((p for p in (repo / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    pack.chmod(0o600)
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0x01
    pack.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as caught:
        pull(offsite, "home", None, tmp_path / "home", None, now=BASE)
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert not (tmp_path / "home" / archive.name).exists()


@pytest.mark.usefixtures("aws_env")
def test_repository_on_s3(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket(s3_server)
    offsite = restic_offsite(tmp_path, f"s3:{s3_server.endpoint}/{bucket}/restic")
    archive = make_archive(tmp_path / "backups")
    report = push_archive(archive, offsite, None, now=BASE)
    assert not report.failures, report.to_dict()
    assert (s3_server.directory / bucket / "restic" / "config").is_file()
    result = pull(offsite, "home", None, tmp_path / "restored", None, now=BASE)
    assert _sha(result.path) == _sha(archive)
