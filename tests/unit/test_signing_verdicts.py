"""Signature documents and verdicts: what is signed, what is refused, and hostile documents of every shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dr_lib.errors import IntegrityError
from dr_lib.signing.envelope import message
from dr_lib.signing.keys import SigningKey, generate_keypair, load_signing_key, load_verify_key
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy
from dr_lib.signing.verify import INVALID, MISSING, UNCHECKED, VALID, SignatureCheck, check, sign

PAYLOAD = b'{"format": "k3s-dr-archive"}\n'


def _key(directory: Path) -> SigningKey:
    return load_signing_key(generate_keypair(directory).signing_key)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[SigningKey, SigningKey]:
    return _key(tmp_path / "one"), _key(tmp_path / "two")


def test_a_signature_verifies_under_its_key_only_and_over_these_bytes_only(keys) -> None:
    one, two = keys
    document = sign(PAYLOAD, one, "manifest.json")
    assert check(PAYLOAD, document, [one.verify_key()], "manifest.json") == SignatureCheck(VALID, one.key_id)
    assert check(PAYLOAD, document, [two.verify_key(), one.verify_key()], "manifest.json").valid  # rotation
    changed = check(PAYLOAD + b" ", document, [one.verify_key()], "manifest.json")
    assert changed.state == INVALID and "does not match the signed bytes" in changed.reason
    foreign = check(PAYLOAD, document, [two.verify_key()], "manifest.json")
    assert foreign.state == INVALID and f"names key {one.key_id}, which is not a verify key given" in foreign.reason
    assert check(PAYLOAD, document, [], "manifest.json") == SignatureCheck(UNCHECKED, one.key_id)
    assert check(PAYLOAD, None, [one.verify_key()], "manifest.json").state == MISSING


def test_a_report_signature_never_passes_for_an_archive_signature(keys) -> None:
    one, _ = keys
    report = sign(PAYLOAD, one, "SHA256SUMS")
    assert check(PAYLOAD, report, [one.verify_key()], "SHA256SUMS").valid
    assert "signs 'SHA256SUMS', not manifest.json" in check(PAYLOAD, report, [one.verify_key()], "manifest.json").reason
    assert message("manifest.json", one.key_id, PAYLOAD) != message("SHA256SUMS", one.key_id, PAYLOAD)


def _document(key: SigningKey, **changes: object) -> bytes:
    data = json.loads(sign(PAYLOAD, key, "manifest.json"))
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


@pytest.mark.parametrize(("hostile", "reason"), [
    (lambda k: b"{" * 5000, "is 5000 bytes; a signature document is at most 4096"),
    (lambda k: b"[" * 3000, "is not a JSON signature document"),  # nested deep: refused, not a RecursionError
    (lambda k: sign(PAYLOAD, k, "manifest.json")[:100], "is not a JSON signature document (truncated"),
    (lambda k: b"\xff\xfe", "is not a JSON signature document"),
    (lambda k: _document(k, algorithm="rsa-pss"), "uses the algorithm 'rsa-pss': accepted is ed25519"),
    (lambda k: _document(k, format="minisign"), "is not a k3s-dr-signature document"),
    (lambda k: _document(k, version=2), "has version '2'"),
    (lambda k: _document(k, key_id="../../etc"), "names no key id of 16 hex digits"),
    (lambda k: _document(k, signature=base64.b64encode(b"x" * 63).decode()), "holds no 64-byte ed25519 signature"),
    (lambda k: _document(k, signature="not base64!"), "holds no 64-byte"),
    (lambda k: _document(k, extra="field"), "has the fields"),
    (lambda k: _document(k, key_id="0" * 16), "names key 0000000000000000, which is not a verify key given"),
])
def test_hostile_signature_documents_are_invalid_with_a_reason(keys, hostile, reason: str) -> None:
    one, _ = keys
    verdict = check(PAYLOAD, hostile(one), [one.verify_key()], "manifest.json", where="manifest.json.sig")
    assert verdict.state == INVALID and reason in verdict.reason, verdict.reason


@pytest.mark.parametrize(("state", "keys", "allow_unsigned", "refused"), [
    (VALID, True, False, False),
    (UNCHECKED, False, False, False),  # nothing to check with: nothing promised
    (MISSING, False, False, False),  # no keys: old archives restore as before
    (MISSING, True, False, True),  # keys given: unsigned is what a forger makes
    (MISSING, True, True, False),  # --allow-unsigned
    (INVALID, True, True, True),  # never, --allow-unsigned or not
    (INVALID, False, False, True),  # a malformed signature is refused even without keys
])
def test_the_policy_refuses_by_state(tmp_path: Path, state: str, keys: bool, allow_unsigned: bool,
                                     refused: bool) -> None:
    verify = (load_verify_key(generate_keypair(tmp_path).verify_key),) if keys else ()
    policy = SignaturePolicy(verify, allow_unsigned)
    verdict = SignatureCheck(state, "ab" * 8, "it was forged" if state == INVALID else "")
    assert (policy.refusal(verdict) is not None) is refused
    if refused:
        with pytest.raises(IntegrityError, match="archive refused"):
            policy.enforce(verdict, "archive refused")
    else:
        policy.enforce(verdict, "archive refused")


def test_no_keys_is_the_default_policy() -> None:
    assert NO_KEYS.keys == () and NO_KEYS.refusal(SignatureCheck(MISSING)) is None
