"""Offsite copies on a real S3 server (versitygw on loopback): push, list, pull, retention, faults."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dr_lib.archive.sidecar import read_sidecar
from dr_lib.errors import (
    ExitCode,
    RemoteAuthError,
    RemoteIntegrityError,
    RemoteMissing,
    RemoteUnreachable,
    WrongIdentity,
)
from dr_lib.offsite.model import RECORD_SUFFIX
from dr_lib.offsite.pull import pull
from dr_lib.offsite.push import local_archive, push_archive
from dr_lib.offsite.s3target import S3Offsite
from dr_lib.offsite.targets import open_target
from k3s_dr_testbed.s3.server import S3Server, start_s3_server
from tests.integration._offsite_env import (
    ACCESS_KEY,
    BASE,
    SECRET_KEY,
    aws_env,
    keypair,
    make_archive,
    new_bucket,
    object_file,
    s3_offsite,
    s3_server,
    versitygw_or_skip,
)

__all__ = ["aws_env", "s3_server"]  # fixtures used by name
pytestmark = pytest.mark.usefixtures("aws_env")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(directory: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in sorted(directory.iterdir()) if p.is_file()}


def test_encrypted_push_lists_good_and_pulls_back_identical(s3_server: S3Server, tmp_path: Path) -> None:
    identity, recipient = keypair(tmp_path)
    archive = make_archive(tmp_path / "backups")
    offsite = s3_offsite(s3_server, new_bucket(s3_server), recipients=(recipient,), identity=identity)
    report = push_archive(archive, offsite, None, now=BASE)
    assert not report.failures, report.to_dict()
    outcome = report.reports[0].outcome
    assert outcome is not None and outcome.action == "pushed" and outcome.encrypted
    assert outcome.ref == f"k3s-dr/{archive.name}.age"
    stored = object_file(s3_server, offsite.targets["lab"].bucket, outcome.ref).read_bytes()
    assert b"cm-1" not in stored and b"ConfigMap" not in stored  # unreadable to whoever holds the bucket
    copies = open_target("lab", offsite).list_copies()
    assert [(c.archive, c.state) for c in copies] == [(archive.name, "good")]
    assert copies[0].record is not None and copies[0].record.encryption == {
        "scheme": "age-x25519", "recipients": [recipient]}
    home = tmp_path / "new-machine"
    result = pull(offsite, "lab", None, home, identity, now=BASE)
    assert result.action == "fetched" and result.identical and result.encrypted
    assert _sha(result.path) == _sha(archive) and result.path.name == archive.name
    sidecar = read_sidecar(result.path)
    assert sidecar is not None and sidecar.sha256 == _sha(archive)
    assert sorted(p.name for p in home.iterdir()) == [archive.name, archive.name + ".verified.json"]
    assert pull(offsite, "lab", archive.name, home, identity, now=BASE).action == "present"


def test_multipart_upload_and_readback(s3_server: S3Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, objects=60, payload=400_000, incompressible=True)
    size = archive.stat().st_size
    assert size > 11 * 1024 * 1024, size
    bucket = new_bucket(s3_server)
    offsite = s3_offsite(s3_server, bucket)
    target = S3Offsite("lab", offsite.targets["lab"], part_size=5 * 1024 * 1024)
    parts: list[int] = []
    real = target.client.upload_part

    def counting(**kwargs: Any) -> Any:
        parts.append(len(kwargs["Body"]))
        return real(**kwargs)

    target.client.upload_part = counting
    outcome = target.push(local_archive(archive), time.monotonic() + 120)
    assert len(parts) == 3 and sum(parts) == size
    assert outcome.bytes_sent == size
    assert object_file(s3_server, bucket, outcome.ref).read_bytes() == archive.read_bytes()


def test_second_push_of_the_same_archive_uploads_nothing(s3_server: S3Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    offsite = s3_offsite(s3_server, new_bucket(s3_server))
    assert push_archive(archive, offsite, "lab", now=BASE).reports[0].outcome.action == "pushed"  # type: ignore[union-attr]
    again = push_archive(archive, offsite, "lab", now=BASE).reports[0].outcome
    assert again is not None and again.action == "present" and again.bytes_sent == 0


def test_remote_retention_keeps_what_the_rotation_rules_keep(s3_server: S3Server, tmp_path: Path) -> None:
    offsite = s3_offsite(s3_server, new_bucket(s3_server), keep=2)
    archives = [make_archive(tmp_path, hours) for hours in range(4)]
    for number, archive in enumerate(archives):
        report = push_archive(archive, offsite, None, now=BASE + timedelta(hours=number))
        assert not report.failures
    retention = report.reports[0].retention
    assert retention is not None and retention.deleted == (archives[1].name,)
    copies = open_target("lab", offsite).list_copies()
    assert sorted(c.archive for c in copies) == [archives[2].name, archives[3].name]
    assert all(c.good for c in copies)
    assert all(a.exists() for a in archives)  # local archives are never touched by a push


def test_object_lock_and_versioning_are_used_where_the_bucket_has_them(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket(s3_server, lock=True)
    offsite = s3_offsite(s3_server, bucket, object_lock_days=1)
    report = push_archive(make_archive(tmp_path), offsite, None, now=BASE)
    outcome = report.reports[0].outcome
    assert outcome is not None, report.to_dict()
    assert outcome.details["versioning"] == "Enabled" and outcome.details["object_lock"] == "enabled"
    assert outcome.details["locked_until"] and outcome.details["version_id"]
    target = open_target("lab", offsite)
    head = target.client.head_object(Bucket=bucket, Key=outcome.ref)  # type: ignore[attr-defined]
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_wrong_credentials_fail_clearly_and_keep_local_files(s3_server: S3Server, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_archive(tmp_path / "backups")
    before = _snapshot(archive.parent)
    offsite = s3_offsite(s3_server, new_bucket(s3_server))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    report = push_archive(archive, offsite, None, now=BASE)
    error = report.failures[0].error
    assert isinstance(error, RemoteAuthError) and error.exit_code == ExitCode.USAGE
    assert "not-the-secret" not in str(error) and SECRET_KEY not in str(error)
    assert "secret key does not match" in str(error)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY")
    with pytest.raises(RemoteAuthError):
        open_target("lab", offsite).list_copies()
    assert _snapshot(archive.parent) == before


def test_missing_bucket_is_a_clear_error(s3_server: S3Server, tmp_path: Path) -> None:
    offsite = s3_offsite(s3_server, "no-such-bucket-here")
    error = push_archive(make_archive(tmp_path), offsite, None, now=BASE).failures[0].error
    assert isinstance(error, RemoteMissing) and error.exit_code == ExitCode.USAGE
    assert "s3://no-such-bucket-here/k3s-dr/" in str(error) and "create the bucket" in str(error)


def test_tampered_remote_copy_is_refused_and_nothing_lands_locally(s3_server: S3Server, tmp_path: Path) -> None:
    identity, recipient = keypair(tmp_path)
    archive = make_archive(tmp_path / "backups")
    bucket = new_bucket(s3_server)
    offsite = s3_offsite(s3_server, bucket, recipients=(recipient,), identity=identity)
    outcome = push_archive(archive, offsite, None, now=BASE).reports[0].outcome
    assert outcome is not None
    stored = object_file(s3_server, bucket, outcome.ref)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x40  # same size, one bit: only a checksum can tell
    stored.write_bytes(bytes(data))
    home = tmp_path / "home"
    with pytest.raises(RemoteIntegrityError) as caught:
        pull(offsite, "lab", None, home, identity, now=BASE)
    assert caught.value.exit_code == ExitCode.INTEGRITY and "tampered" in str(caught.value)
    assert list(home.iterdir()) == []


def test_wrong_identity_is_refused_and_nothing_lands_locally(s3_server: S3Server, tmp_path: Path) -> None:
    _identity, recipient = keypair(tmp_path, "right")
    wrong, _ = keypair(tmp_path, "wrong")
    offsite = s3_offsite(s3_server, new_bucket(s3_server), recipients=(recipient,), identity=wrong)
    push_archive(make_archive(tmp_path / "backups"), offsite, None, now=BASE)
    home = tmp_path / "home"
    with pytest.raises(WrongIdentity) as caught:
        pull(offsite, "lab", None, home, wrong, now=BASE)
    assert caught.value.exit_code == ExitCode.USAGE
    assert list(home.iterdir()) == []


def test_a_copy_without_its_record_is_never_good(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket(s3_server)
    offsite = s3_offsite(s3_server, bucket)
    archive = make_archive(tmp_path)
    push_archive(archive, offsite, None, now=BASE)
    target = open_target("lab", offsite)
    target.client.delete_object(Bucket=bucket, Key=f"k3s-dr/{archive.name}{RECORD_SUFFIX}")  # type: ignore[attr-defined]
    copies = target.list_copies()
    assert [(c.state, c.note) for c in copies] == [("incomplete", "no record: never verified")]
    with pytest.raises(RemoteMissing, match="holds no good copy"):
        pull(offsite, "lab", None, tmp_path / "home", None, now=BASE)


def test_server_stopped_mid_upload(tmp_path: Path) -> None:
    server = start_s3_server(tmp_path / "s3", access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                             binary=versitygw_or_skip())
    try:
        _stopped_mid_upload(server, tmp_path)
    finally:
        server.stop()


def _stopped_mid_upload(server: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket(server)
    offsite = s3_offsite(server, bucket)
    archive = make_archive(tmp_path / "backups", objects=60, payload=400_000, incompressible=True)
    before = _snapshot(archive.parent)
    target = S3Offsite("lab", offsite.targets["lab"], part_size=5 * 1024 * 1024)
    real = target.client.upload_part

    def stop_after_first_part(**kwargs: Any) -> Any:
        answer = real(**kwargs)
        server.stop()  # the real server goes away between two parts
        return answer

    target.client.upload_part = stop_after_first_part
    started = time.monotonic()
    with pytest.raises(RemoteUnreachable) as caught:
        target.push(local_archive(archive), time.monotonic() + 120)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert time.monotonic() - started < 60
    server.start()
    copies = open_target("lab", offsite).list_copies()
    assert copies and not any(c.good for c in copies), [c.to_dict() for c in copies]
    assert {c.note for c in copies} <= {"unfinished multipart upload", "upload in progress or interrupted"}
    assert _snapshot(archive.parent) == before
    later = BASE + timedelta(days=400)  # the next push, long after: the debris is stale now
    offsite_now = dataclasses.replace(offsite)
    report = push_archive(archive, offsite_now, None, now=later)
    assert not report.failures and report.reports[0].retention is not None
    assert report.reports[0].retention.debris
    assert [c.state for c in open_target("lab", offsite).list_copies()] == ["good"]
