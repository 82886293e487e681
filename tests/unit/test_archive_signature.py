"""Signed archives on disk: the signature member after the manifest, judged before the manifest is parsed;
forged, unsigned and hostile signature members; old archives still read; restic's members keep it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dr_lib.archive import format as fmt
from dr_lib.archive.access import iter_archive_objects, read_manifest, verify_archive
from dr_lib.archive.sidecar import read_sidecar
from dr_lib.cli.main import main
from dr_lib.errors import IntegrityError
from dr_lib.offsite.members import extract_members, rebuild_archive
from dr_lib.signing.keys import SigningKey, generate_keypair, load_signing_key
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy
from tests.unit._archive_factory import CONFIGMAPS, archive_members, forge, good_archive, write_members

OBJECTS = {CONFIGMAPS: [CONFIGMAPS.obj("a", data={"k": "v"}), CONFIGMAPS.obj("b")]}


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_signing_key(generate_keypair(tmp_path / "keys").signing_key)


@pytest.fixture
def signed(tmp_path: Path, key: SigningKey) -> Path:
    (tmp_path / "archives").mkdir()
    return good_archive(tmp_path / "archives", OBJECTS, signer=key)


def trust(*keys: SigningKey, allow_unsigned: bool = False) -> SignaturePolicy:
    return SignaturePolicy(tuple(k.verify_key() for k in keys), allow_unsigned)


def test_the_signature_is_the_member_right_after_the_manifest(signed: Path, key: SigningKey) -> None:
    names = [name for name, _ in archive_members(signed)]
    assert names[:3] == [fmt.MANIFEST_MEMBER, fmt.SIGNATURE_MEMBER, "resources/configmaps.yaml"]
    result = verify_archive(signed, trust(key))
    assert (result.signature.state, result.signature.key_id, result.objects) == ("valid", key.key_id, 2)
    assert verify_archive(signed).signature.state == "unchecked"  # no key: reported, not judged
    assert [obj["metadata"]["name"] for _, obj in iter_archive_objects(signed)] == ["a", "b"]
    assert read_manifest(signed).objects == 2


def test_a_forged_archive_is_refused_before_its_manifest_is_parsed(signed: Path, key: SigningKey,
                                                                   tmp_path: Path) -> None:
    forged = forge(signed, tmp_path / "archives" / "k3s-dr-20261128T110000Z.tar.gz")
    assert verify_archive(forged).signature.state == "unchecked"  # every hash recomputed: consistent otherwise
    with pytest.raises(IntegrityError, match="does not match the signed bytes") as caught:
        verify_archive(forged, trust(key))
    assert "altered or forged" in str(caught.value)
    recorded = verify_archive(forged, trust(key), enforce=False)
    assert recorded.signature.state == "invalid" and recorded.signature.key_id == key.key_id


def test_an_unsigned_archive_is_refused_only_when_keys_are_given(tmp_path: Path, key: SigningKey) -> None:
    unsigned = good_archive(tmp_path, OBJECTS)
    assert verify_archive(unsigned).signature.state == "missing"  # an old archive reads as before
    with pytest.raises(IntegrityError, match="it is not signed, and verify keys are given") as caught:
        verify_archive(unsigned, trust(key))
    assert "--allow-unsigned" in str(caught.value)
    assert verify_archive(unsigned, trust(key, allow_unsigned=True)).signature.state == "missing"


def test_rotation_two_keys_accept_both_a_removed_key_is_refused(tmp_path: Path, key: SigningKey) -> None:
    second = load_signing_key(generate_keypair(tmp_path / "second").signing_key)
    (tmp_path / "a").mkdir()
    old = good_archive(tmp_path / "a", OBJECTS, signer=key)
    new = good_archive(tmp_path / "a", OBJECTS, signer=second, created="2026-11-28T11:00:00Z")
    assert verify_archive(old, trust(key, second)).signature.key_id == key.key_id
    assert verify_archive(new, trust(key, second)).signature.key_id == second.key_id
    with pytest.raises(IntegrityError, match=f"names key {key.key_id}, which is not a verify key given"):
        verify_archive(old, trust(second))


def _with_signature(signed: Path, target: Path, signature: bytes | None, *, twice: bool = False) -> Path:
    members = [m for m in archive_members(signed) if m[0] != fmt.SIGNATURE_MEMBER]
    extra = [] if signature is None else [(fmt.SIGNATURE_MEMBER, signature)] * (2 if twice else 1)
    return write_members(target, [members[0], *extra, *members[1:]])


def _document(signed: Path, **changes: object) -> bytes:
    data = json.loads(dict(archive_members(signed))[fmt.SIGNATURE_MEMBER])
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(("make", "refusal"), [
    (lambda s: b" " * 5000, "manifest.json.sig is 5000 bytes; a signature is at most 4096"),
    (lambda s: dict(archive_members(s))[fmt.SIGNATURE_MEMBER][:90], r"not a JSON signature document \(truncated"),
    (lambda s: _document(s, algorithm="ecdsa-p256"), "uses the algorithm 'ecdsa-p256'"),
    (lambda s: _document(s, key_id="f" * 16), "names key ffffffffffffffff, which is not a verify key given"),
])
def test_hostile_signature_members_are_refused(signed: Path, key: SigningKey, tmp_path: Path, make,
                                               refusal: str) -> None:
    hostile = _with_signature(signed, tmp_path / "hostile.tar.gz", make(signed))
    with pytest.raises(IntegrityError, match=refusal):
        verify_archive(hostile, trust(key))
    assert main(["verify", str(hostile), "--verify-key", str(tmp_path / "keys" / "verify-key.pem")]) == 8


def test_a_malformed_signature_is_refused_even_without_keys(signed: Path, tmp_path: Path) -> None:
    hostile = _with_signature(signed, tmp_path / "hostile.tar.gz", _document(signed, algorithm="hmac"))
    with pytest.raises(IntegrityError, match="uses the algorithm 'hmac'"):
        verify_archive(hostile, NO_KEYS)


def test_a_duplicated_signature_member_is_refused(signed: Path, key: SigningKey, tmp_path: Path) -> None:
    document = dict(archive_members(signed))[fmt.SIGNATURE_MEMBER]
    twice = _with_signature(signed, tmp_path / "twice.tar.gz", document, twice=True)
    with pytest.raises(IntegrityError, match=r"member 'manifest\.json\.sig' found where the manifest expects"):
        verify_archive(twice, trust(key))
    last = write_members(tmp_path / "last.tar.gz", [*archive_members(signed), (fmt.SIGNATURE_MEMBER, document)])
    with pytest.raises(IntegrityError, match=r"member 'manifest\.json\.sig' is not in the manifest"):
        verify_archive(last, trust(key))


def test_the_verify_command_exits_by_the_signature_and_records_it(signed: Path, key: SigningKey, tmp_path: Path,
                                                                  capsys) -> None:
    verify_key = str(tmp_path / "keys" / "verify-key.pem")
    assert main(["verify", str(signed), "--verify-key", verify_key, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["signature"], data["key_id"], data["ok"]) == ("valid", key.key_id, True)
    assert read_sidecar(signed).signature == {"state": "valid", "key_id": key.key_id, "reason": None}  # type: ignore[union-attr]
    forged = forge(signed, tmp_path / "archives" / "k3s-dr-20261128T120000Z.tar.gz")
    assert main(["verify", str(forged), "--verify-key", verify_key, "--json"]) == 8
    data = json.loads(capsys.readouterr().out)
    assert (data["signature"], data["ok"], data["sidecar_written"]) == ("invalid", False, False)
    assert read_sidecar(forged) is None  # a refused archive gets no verification record
    unsigned = good_archive(tmp_path / "archives", OBJECTS, created="2026-11-28T13:00:00Z")
    assert main(["verify", str(unsigned), "--verify-key", verify_key, "--json"]) == 8
    assert json.loads(capsys.readouterr().out)["signature"] == "missing"
    assert main(["verify", str(unsigned), "--verify-key", verify_key, "--allow-unsigned"]) == 0


def test_restic_members_round_trip_keeps_the_signature_byte_for_byte(signed: Path, key: SigningKey,
                                                                    tmp_path: Path) -> None:
    extract_members(signed, tmp_path / "members")
    assert (tmp_path / "members" / fmt.SIGNATURE_MEMBER).read_bytes() == dict(archive_members(signed))[
        fmt.SIGNATURE_MEMBER]
    (tmp_path / "rebuilt").mkdir()
    rebuilt = rebuild_archive(tmp_path / "members", tmp_path / "rebuilt")
    assert rebuilt.read_bytes() == signed.read_bytes()
    assert verify_archive(rebuilt, trust(key)).signature.valid
    (tmp_path / "members" / fmt.SIGNATURE_MEMBER).write_bytes(b"x" * 5000)
    with pytest.raises(IntegrityError, match=r"manifest\.json\.sig is not a regular file of at most 4096 bytes"):
        rebuild_archive(tmp_path / "members", tmp_path / "rebuilt")
