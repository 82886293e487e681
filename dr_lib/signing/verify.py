"""Sign a file's bytes, and judge a signature document against the verify keys (pure but for the keys).

A verdict is one of four states, with the key id it names and, when it is not valid, why:

| state | meaning |
|---|---|
| ``valid`` | signed by one of the verify keys given, and the signature covers these exact bytes |
| ``invalid`` | malformed; or names a key that is none of those given; or does not match (the bytes changed) |
| ``missing`` | no signature at all (an archive written before signing, or by a host without a key) |
| ``unchecked`` | signed, but no verify key was given to check it with |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dr_lib.errors import MalformedSignature
from dr_lib.signing.envelope import Envelope, message, parse
from dr_lib.signing.keys import SigningKey, VerifyKey

VALID, INVALID, MISSING, UNCHECKED = "valid", "invalid", "missing", "unchecked"


@dataclass(frozen=True)
class SignatureCheck:
    state: str  # valid | invalid | missing | unchecked
    key_id: str = ""  # the key the signature names (valid: the key that verified it)
    reason: str = ""  # why it is not valid

    @property
    def valid(self) -> bool:
        return self.state == VALID

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "key_id": self.key_id or None, "reason": self.reason or None}

    def describe(self) -> str:
        if self.state == VALID:
            return f"signed by key {self.key_id}"
        if self.state == UNCHECKED:
            return f"signed by key {self.key_id}, not checked (no verify key)"
        if self.state == MISSING:
            return "not signed"
        return f"signature invalid: {self.reason}"


NOT_SIGNED = SignatureCheck(MISSING)


def sign(payload: bytes, key: SigningKey, signed: str) -> bytes:
    """The signature document over ``payload`` (a file of kind ``signed``: see envelope.DOMAINS)."""
    return Envelope(key.key_id, signed, key.sign(message(signed, key.key_id, payload))).to_bytes()


def check(payload: bytes, document: bytes | None, keys: Sequence[VerifyKey], signed: str,
          where: str = "the signature") -> SignatureCheck:
    """The verdict on ``document`` as a signature over ``payload`` by one of ``keys``."""
    if document is None:
        return NOT_SIGNED
    try:
        envelope = parse(document, signed)
    except MalformedSignature as exc:
        return SignatureCheck(INVALID, reason=f"{where} {exc}")
    if not keys:
        return SignatureCheck(UNCHECKED, envelope.key_id)
    key = next((k for k in keys if k.key_id == envelope.key_id), None)
    if key is None:
        known = ", ".join(k.key_id for k in keys)
        return SignatureCheck(INVALID, envelope.key_id, f"{where} names key {envelope.key_id}, which is not a "
                                                        f"verify key given (known: {known})")
    if not key.verifies(envelope.signature, message(signed, envelope.key_id, payload)):
        return SignatureCheck(INVALID, envelope.key_id, f"{where} does not match the signed bytes under key "
                                                        f"{envelope.key_id}: they changed after signing, or it was "
                                                        "forged")
    return SignatureCheck(VALID, envelope.key_id)
