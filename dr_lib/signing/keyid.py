"""Key ids and verify-key files read with the standard library alone (the host probe has nothing else).

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key: short
enough to read aloud, long enough that two keys of one operator never share one. A verify key
file is PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo, what ``openssl pkey -pubout`` writes), which for
Ed25519 is a fixed 12-byte DER prefix followed by the raw key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
RAW_KEY_BYTES = 32
KEY_ID_DIGITS = 16
MAX_KEY_FILE_BYTES = 4096
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----")
KEY_ID = re.compile(r"^[0-9a-f]{16}$")


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:KEY_ID_DIGITS]


def raw_public_key(pem: str) -> bytes | None:
    """The raw Ed25519 public key of a PEM ``PUBLIC KEY`` text; None when it is not exactly one."""
    match = _PEM.search(pem)
    if match is None:
        return None
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(ED25519_SPKI_PREFIX) + RAW_KEY_BYTES or not der.startswith(ED25519_SPKI_PREFIX):
        return None
    return der[len(ED25519_SPKI_PREFIX):]


def pem_key_id(pem: str) -> str | None:
    raw = raw_public_key(pem)
    return None if raw is None else key_id(raw)
