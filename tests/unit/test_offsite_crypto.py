"""age encryption of archives: round trip, wrong identity, tampering, truncation, bad key files."""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
import pytest

from dr_lib.errors import ConfigError, ExitCode, IntegrityError, UsageError, WrongIdentity
from dr_lib.offsite.crypto import decrypt_file, encrypt_file, load_identities, open_for_reading, parse_recipients


def _keypair(directory: Path, name: str = "id") -> tuple[Path, str]:
    identity = pyrage.x25519.Identity.generate()
    path = directory / f"{name}.txt"
    path.write_text(f"# created: test\n# public key: {identity.to_public()}\n{identity}\n")
    return path, str(identity.to_public())


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "k3s-dr-20261128T100000Z.tar.gz"
    path.write_bytes(os.urandom(300_000))
    return path


def test_round_trip_is_byte_identical_and_private(tmp_path: Path, plain: Path) -> None:
    identity, recipient = _keypair(tmp_path)
    sealed = tmp_path / (plain.name + ".age")
    encrypt_file(plain, sealed, parse_recipients([recipient]))
    assert sealed.stat().st_mode & 0o777 == 0o600
    assert plain.read_bytes()[:4096] not in sealed.read_bytes()
    out = tmp_path / "out.tar.gz"
    decrypt_file(sealed, out, load_identities(identity))
    assert out.read_bytes() == plain.read_bytes()


def test_any_of_several_recipients_can_decrypt(tmp_path: Path, plain: Path) -> None:
    first, r1 = _keypair(tmp_path, "a")
    second, r2 = _keypair(tmp_path, "b")
    sealed = tmp_path / "x.age"
    encrypt_file(plain, sealed, parse_recipients(f"{r1}, {r2}"))
    for identity in (first, second):
        out = tmp_path / f"out-{identity.stem}"
        decrypt_file(sealed, out, load_identities(identity))
        assert out.read_bytes() == plain.read_bytes()


def test_wrong_identity_is_a_clear_usage_error_and_leaves_nothing(tmp_path: Path, plain: Path) -> None:
    _identity, recipient = _keypair(tmp_path, "right")
    wrong, _ = _keypair(tmp_path, "wrong")
    sealed = tmp_path / "x.age"
    encrypt_file(plain, sealed, parse_recipients([recipient]))
    out = tmp_path / "out"
    with pytest.raises(WrongIdentity) as caught:
        decrypt_file(sealed, out, load_identities(wrong))
    assert caught.value.exit_code == ExitCode.USAGE
    assert "none of the identities" in str(caught.value)
    assert not out.exists() and not list(tmp_path.glob(".k3s-dr-tmp-*"))


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_tampered_or_truncated_ciphertext_is_an_integrity_error(tmp_path: Path, plain: Path, damage: str) -> None:
    identity, recipient = _keypair(tmp_path)
    sealed = tmp_path / "x.age"
    encrypt_file(plain, sealed, parse_recipients([recipient]))
    data = bytearray(sealed.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        del data[-1000:]
    sealed.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(IntegrityError) as caught:
        decrypt_file(sealed, out, load_identities(identity))
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert not out.exists() and not list(tmp_path.glob(".k3s-dr-tmp-*"))


def test_identity_file_problems_never_echo_the_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_identities(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\nAGE-SECRET-KEY-1NOTAKEYATALL\n")
    with pytest.raises(UsageError) as caught:
        load_identities(bad)
    assert "line 2" in str(caught.value) and "NOTAKEY" not in str(caught.value)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n")
    with pytest.raises(UsageError, match="holds no identity"):
        load_identities(empty)


def test_bad_recipient_names_the_config_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_recipients(["age1notarecipient"])
    assert caught.value.key == "offsite.recipients"


def test_open_for_reading_passes_plain_archives_and_cleans_up_decrypted_copies(tmp_path: Path, plain: Path) -> None:
    with open_for_reading(plain, None) as same:
        assert same == plain
    identity, recipient = _keypair(tmp_path)
    sealed = tmp_path / (plain.name + ".age")
    encrypt_file(plain, sealed, parse_recipients([recipient]))
    work = tmp_path / "work"
    work.mkdir()
    with open_for_reading(sealed, identity, work_dir=work) as decrypted:
        assert decrypted.name == plain.name and decrypted.read_bytes() == plain.read_bytes()
        assert decrypted.parent.stat().st_mode & 0o777 == 0o700
    assert list(work.iterdir()) == []
    with pytest.raises(UsageError, match="identity is needed"), open_for_reading(sealed, None):
        pass
