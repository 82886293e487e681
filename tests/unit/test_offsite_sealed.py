"""Encrypted archives at rest: the sidecar records encryption; verify and restore decrypt transparently."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyrage
import pytest

from dr_lib.archive.sidecar import is_verified, read_sidecar
from dr_lib.config import config_from_text
from dr_lib.errors import IntegrityError, UsageError, WrongIdentity
from dr_lib.jobs.offsite import archive_for_restore
from dr_lib.jobs.report import Collected
from dr_lib.offsite.sealed import seal_archive, sealed_sidecar, unseal, verify_sealed
from dr_lib.signing.policy import NO_KEYS
from tests.unit._archive_factory import CONFIGMAPS, good_archive

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _key(directory: Path, name: str) -> tuple[Path, str]:
    identity = pyrage.x25519.Identity.generate()
    path = directory / f"{name}.txt"
    path.write_text(f"{identity}\n")
    return path, str(identity.to_public())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path, str]:
    """(encrypted archive, identity, plaintext sha256); the plaintext itself is gone."""
    identity, recipient = _key(tmp_path, "id")
    backups = tmp_path / "backups"
    backups.mkdir()
    archive = good_archive(backups, {CONFIGMAPS: [CONFIGMAPS.obj(f"cm-{i}") for i in range(7)]})
    plain_sha = _sha(archive)
    path = seal_archive(archive, (recipient,), NOW)
    archive.unlink()
    return path, identity, plain_sha


def test_sidecar_records_the_encryption(sealed: tuple[Path, Path, str]) -> None:
    path, _identity, plain_sha = sealed
    record = sealed_sidecar(path)
    assert record is not None and record["encryption"]["scheme"] == "age-x25519"
    assert record["archive_sha256"] == plain_sha and record["objects"] == 7 and record["sha256"] == _sha(path)
    assert is_verified(path) and read_sidecar(path) is not None  # the archive module reads it as any sidecar
    assert "AGE-SECRET-KEY" not in json.dumps(record)


def test_verify_decrypts_and_refreshes(sealed: tuple[Path, Path, str], tmp_path: Path) -> None:
    path, identity, plain_sha = sealed
    record = verify_sealed(path, identity, NOW.replace(hour=13))
    assert record["verified_at"] == "2026-11-28T13:00:00Z" and record["archive_sha256"] == plain_sha
    assert record["encryption"]["recipients"]
    wrong, _ = _key(tmp_path, "wrong")
    with pytest.raises(WrongIdentity):
        verify_sealed(path, wrong, NOW)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".k3s-dr-tmp-")]


def test_restore_of_an_encrypted_archive_decrypts_it_beside(sealed: tuple[Path, Path, str], tmp_path: Path) -> None:
    path, identity, plain_sha = sealed
    config = config_from_text(f"offsite: {{identity_file: {identity}}}", "test")
    said = Collected()
    plain = archive_for_restore(config, str(path), None, None, said, trust=NO_KEYS)
    assert plain == str(path.with_name(path.name.removesuffix(".age")))
    assert _sha(Path(plain)) == plain_sha and is_verified(Path(plain))
    assert said.notes == [f"k3s-dr: decrypted {path.name} to {plain} (verified)"]
    # reused, not decrypted twice
    assert archive_for_restore(config, str(path), None, None, said, trust=NO_KEYS) == plain
    assert archive_for_restore(config, "/some/plain.tar.gz", None, None, said, trust=NO_KEYS) == "/some/plain.tar.gz"
    assert len(said.notes) == 2 and not said.warnings


def test_unseal_never_replaces_a_different_file(sealed: tuple[Path, Path, str]) -> None:
    path, identity, _plain_sha = sealed
    squatter = path.with_name(path.name.removesuffix(".age"))
    squatter.write_bytes(b"something else")
    with pytest.raises(UsageError, match="refusing to replace"):
        unseal(path, identity, NOW)
    assert squatter.read_bytes() == b"something else"


def test_tampered_sealed_archive_is_refused(sealed: tuple[Path, Path, str]) -> None:
    path, identity, _plain_sha = sealed
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        unseal(path, identity, NOW)
    assert not path.with_name(path.name.removesuffix(".age")).exists()
