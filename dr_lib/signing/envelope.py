"""The signature document: what ``manifest.json.sig`` (in an archive) and ``SHA256SUMS.sig`` (beside a
report's checksums) hold. Pure: bytes in, values out; every malformation is a reason, never a crash.

    {"format": "k3s-dr-signature", "version": 1, "algorithm": "ed25519",
     "key_id": "<16 hex>", "signed": "manifest.json", "signature": "<base64 of 64 bytes>"}

What is signed is never the document itself but :func:`message`: a domain line (which kind of file,
so a report's signature can never pass for an archive's), the key id (so the id a document claims
is covered by the signature), then the signed file's bytes exactly as stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from dr_lib.errors import MalformedSignature
from dr_lib.signing.keyid import KEY_ID

FORMAT = "k3s-dr-signature"
VERSION = 1
ALGORITHM = "ed25519"
SIGNATURE_BYTES = 64
MAX_ENVELOPE_BYTES = 4096  # ~250 bytes in practice; anything near this is not ours
_KEYS = ("algorithm", "format", "key_id", "signature", "signed", "version")

# What each kind of signed file is called in its domain line (rules as data: one row per use).
DOMAINS: dict[str, bytes] = {
    "manifest.json": b"k3s-dr archive manifest v1",  # an archive's manifest: every member's sha256 in it
    "SHA256SUMS": b"k3s-dr report checksums v1",  # a drill or check report's checksums of every file
}


@dataclass(frozen=True)
class Envelope:
    key_id: str
    signed: str  # one of DOMAINS
    signature: bytes
    algorithm: str = ALGORITHM

    def to_bytes(self) -> bytes:
        document = {"format": FORMAT, "version": VERSION, "algorithm": self.algorithm, "key_id": self.key_id,
                    "signed": self.signed, "signature": base64.b64encode(self.signature).decode("ascii")}
        return (json.dumps(document, sort_keys=True) + "\n").encode("ascii")


def message(signed: str, key_id: str, payload: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers."""
    return DOMAINS[signed] + b"\n" + key_id.encode("ascii") + b"\n" + payload


def _object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise MalformedSignature(f"is {len(raw)} bytes; a signature document is at most {MAX_ENVELOPE_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedSignature("is not a JSON signature document (truncated or not ours)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MalformedSignature(f"is not a {FORMAT} document")
    if data.get("version") != VERSION:
        raise MalformedSignature(f"has version {str(data.get('version'))[:20]!r}: this tool reads version {VERSION}")
    if sorted(data) != sorted(_KEYS):
        raise MalformedSignature(f"has the fields {', '.join(sorted(map(str, data)))[:200]}: expected "
                                 f"{', '.join(_KEYS)}")
    return data


def parse(raw: bytes, expected: str) -> Envelope:
    """The signature document ``raw`` for a file of kind ``expected``; :class:`MalformedSignature` otherwise."""
    data = _object(raw)
    algorithm, key_id, signed, text = (data["algorithm"], data["key_id"], data["signed"], data["signature"])
    if algorithm != ALGORITHM:
        raise MalformedSignature(f"uses the algorithm {str(algorithm)[:40]!r}: accepted is {ALGORITHM}")
    if not isinstance(key_id, str) or KEY_ID.match(key_id) is None:
        raise MalformedSignature("names no key id of 16 hex digits")
    if signed != expected:
        raise MalformedSignature(f"signs {str(signed)[:40]!r}, not {expected}")
    try:
        signature = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != SIGNATURE_BYTES:
        raise MalformedSignature(f"holds no {SIGNATURE_BYTES}-byte {ALGORITHM} signature (truncated?)")
    return Envelope(key_id, signed, signature)
