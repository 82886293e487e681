"""Key files: made by keygen (modes, ids, never replaced), loaded only when they are what they claim."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from dr_lib.cli.main import main
from dr_lib.errors import UsageError
from dr_lib.signing.keyid import key_id, pem_key_id
from dr_lib.signing.keys import generate_keypair, load_signing_key, load_verify_key

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_keygen_writes_a_private_signing_key_and_a_public_verify_key(tmp_path: Path, capsys) -> None:
    assert main(["keygen", "--dir", str(tmp_path / "keys"), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    signing, verify = Path(made["signing_key"]), Path(made["verify_key"])
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600 and stat.S_IMODE(verify.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert load_signing_key(signing).key_id == load_verify_key(verify).key_id == made["key_id"]
    assert pem_key_id(verify.read_text()) == made["key_id"] and len(made["key_id"]) == 16  # stdlib agrees
    assert signing.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["signing-key.pem", "verify-key.pem"]


def test_an_existing_key_is_never_replaced_and_force_keeps_the_old_pair(tmp_path: Path) -> None:
    first = generate_keypair(tmp_path, now=NOW)
    old = first.signing_key.read_bytes()
    with pytest.raises(UsageError, match="exists: refusing to replace a key"):
        generate_keypair(tmp_path, now=NOW)
    assert first.signing_key.read_bytes() == old
    second = generate_keypair(tmp_path, force=True, now=NOW)
    assert second.key_id != first.key_id
    aside = tmp_path / "signing-key.pem.20261204T120000Z.old"
    assert str(aside) in second.moved_aside and aside.read_bytes() == old
    third = generate_keypair(tmp_path, force=True, now=NOW)  # same second: a counter, nothing overwritten
    assert (tmp_path / "signing-key.pem.20261204T120000Z.1.old").exists() and third.key_id != second.key_id
    assert len(list(tmp_path.glob("*.old"))) == 4


def test_a_key_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    with pytest.raises(UsageError, match="writable by others"):
        generate_keypair(tmp_path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    made = generate_keypair(tmp_path / "keys", now=NOW)
    return made.signing_key, made.verify_key


@pytest.mark.parametrize(("change", "refusal"), [
    (lambda p: p.chmod(0o640), "mode 0640: others may read it"),
    (lambda p: p.chmod(0o604), "mode 0604: others may read it"),
    (lambda p: os.chown(p, 65534, 65534), "belongs to uid 65534, not to this user"),
    (lambda p: p.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "not readable"),
    (lambda p: p.write_bytes(b"x" * 5000), "larger than 4096 bytes"),
])
def test_a_signing_key_that_is_not_private_ours_and_a_key_is_refused(pair: tuple[Path, Path], change, refusal) -> None:
    signing, _ = pair
    change(signing)
    with pytest.raises(UsageError, match=refusal) as caught:
        load_signing_key(signing)
    assert "PRIVATE" not in str(caught.value) and "AAAA" not in str(caught.value)  # never the file's content


def test_a_signing_key_reached_through_a_link_or_missing_is_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    link = tmp_path / "link.pem"
    link.symlink_to(pair[0])
    with pytest.raises(UsageError, match="is a symbolic link"):
        load_signing_key(link)
    with pytest.raises(UsageError, match="does not exist"):
        load_signing_key(tmp_path / "absent.pem")


def _write_private(path: Path, key: object) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def test_keys_of_another_algorithm_are_refused(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(UsageError, match="not readable as one"):
        load_signing_key(_write_private(tmp_path / "rsa.pem", rsa_key))
    public = tmp_path / "ec.pub"
    public.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(UsageError, match="of another algorithm"):
        load_verify_key(public)
    assert pem_key_id(public.read_text()) is None  # the stdlib reader refuses it too
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key\n")
    with pytest.raises(UsageError, match="not readable as one"):
        load_verify_key(garbage)


def test_key_ids_are_the_digest_of_the_raw_public_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert pem_key_id(pem) == key_id(raw) and key_id(raw) != key_id(raw[::-1])
