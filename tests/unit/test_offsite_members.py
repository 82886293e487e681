"""An archive stored as members (what restic keeps) rebuilds byte-identical, and checks what it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dr_lib.archive.access import verify_archive
from dr_lib.errors import (
    IntegrityError,
    RemoteAuthError,
    RemoteIntegrityError,
    RemoteMissing,
    RemoteUnreachable,
    UsageError,
)
from dr_lib.offsite.members import extract_members, rebuild_archive
from dr_lib.offsite.restic_errors import classify
from tests.unit._archive_factory import CONFIGMAPS, DEPLOYMENTS, good_archive


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_members_round_trip_is_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    archive = good_archive(source, {CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}", data={"k": "v" * i}) for i in range(50)],
                                    DEPLOYMENTS: [DEPLOYMENTS.obj("web")]},
                           datastore=(b"SQLite format 3\0" + b"x" * 5000, b"K10token::server:abc\n"))
    members = tmp_path / "members"
    manifest = extract_members(archive, members)
    assert manifest.objects == 51
    assert sorted(p.relative_to(members).as_posix() for p in members.rglob("*") if p.is_file()) == [
        "datastore/state.db", "datastore/token", "manifest.json", "resources/configmaps.yaml",
        "resources/deployments.apps.yaml"]
    out = tmp_path / "out"
    out.mkdir()
    rebuilt = rebuild_archive(members, out)
    assert rebuilt.name == archive.name
    assert _sha(rebuilt) == _sha(archive)
    assert verify_archive(rebuilt).objects == 51


def test_a_changed_or_missing_member_is_refused(tmp_path: Path) -> None:
    archive = good_archive(tmp_path, {CONFIGMAPS: [CONFIGMAPS.obj("a")]})
    members = tmp_path / "members"
    extract_members(archive, members)
    (members / "resources/configmaps.yaml").write_text("---\n{}\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError):
        rebuild_archive(members, out)
    (members / "resources/configmaps.yaml").unlink()
    with pytest.raises(IntegrityError, match="lacks member"):
        rebuild_archive(members, out)


@pytest.mark.parametrize(("stderr", "error"), [
    ("Fatal: wrong password or no key found\n", RemoteAuthError),
    ("Fatal: unable to open config file: Stat: The access key ID you provided does not exist (InvalidAccessKeyId)",
     RemoteAuthError),
    ("Fatal: unable to open config file: stat /srv/r/config: no such file or directory\n"
     "Is there a repository at the following location?\n/srv/r", RemoteMissing),
    ("Fatal: Resolving password failed: open /etc/p: no such file or directory", UsageError),
    ('Fatal: unable to open repository at s3:http://127.0.0.1:1/b: dial tcp 127.0.0.1:1: connect: connection refused',
     RemoteUnreachable),
    ("load <data/1234>: ciphertext verification failed", RemoteIntegrityError),
])
def test_restic_failures_map_to_clear_errors(stderr: str, error: type[Exception]) -> None:
    found = classify(stderr, target="home", where="/srv/r", doing="list snapshots")
    assert type(found) is error
    assert "offsite target 'home'" in str(found)
