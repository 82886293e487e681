"""A second key for the data repository whose password is random, so restic opens it in milliseconds.

restic derives every repository key from its password with scrypt, calibrated at ``restic init``
to take ~0.5 s (N=2^15, r=8, p=7 on our machines) — in *every* restic process. That cost slows
the guessing of a human password; the data repository's password is 32 random bytes
(:mod:`dr_lib.datarepo.repository`), which no guessing reaches, and it travels inside every
archive that references the repository anyway. A backup runs four restic processes (backup, ls,
check, snapshots); a restore two: the calibrated key was a third of an incremental backup.

So the repository gets a second key, in restic's own key format (restic's design document, "Keys,
Encryption and MAC"): the same master key, encrypted (AES-256-CTR, Poly1305-AES) under a user key
derived with scrypt N=2^10, r=8, p=1, and every restic command names it with ``--key-hint``.
restic itself opens it; a key restic could not open would only make it fall back to the
calibrated key (slow, still right), and :func:`add_fast_key`'s caller proves with
``restic key list`` that restic opened ours before using it. Offsite repositories are left
alone: their passwords may be human.

Key files are read as untrusted input (a repository pulled from elsewhere): bounded in number
and size, parsed as JSON, and a hint is only ever a file name restic itself then tries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.atomic import fsync_dir
from dr_lib.errors import IntegrityError

FAST_N, FAST_R, FAST_P = 1 << 10, 8, 1
MAX_KEY_FILES = 20  # restic itself tries at most 20 keys
MAX_KEY_BYTES = 4096
MAX_SCRYPT_MEMORY = 256 << 20  # restic calibrates to 60 MiB at most; a key asking for more is not opened
MAX_SCRYPT_WORK = 1 << 26  # N·r·p: restic's calibration gave 2^15·8·7 ≈ 2^20.8 here; far more is a CPU bomb
SALT_BYTES = 64
NONCE_BYTES = 16
TAG_BYTES = 16


@dataclass(frozen=True)
class UserKey:
    """What scrypt derives from a password: restic's AES-256 key and Poly1305-AES key (k, r)."""

    encryption: bytes
    mac_k: bytes
    mac_r: bytes


def derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> UserKey:
    if min(n, r, p) < 1 or 128 * r * (n + p + 2) > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        raise IntegrityError(f"a repository key asks scrypt for N={n} r={r} p={p}: over "
                             f"{MAX_SCRYPT_MEMORY >> 20} MiB or {MAX_SCRYPT_WORK} N·r·p, not opened")
    raw = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=MAX_SCRYPT_MEMORY + (1 << 20), dklen=64)
    return UserKey(raw[:32], raw[32:48], raw[48:64])


def _clamped(r: bytes) -> bytes:
    clamp = bytearray(r)
    for index in (3, 7, 11, 15):
        clamp[index] &= 0x0F
    for index in (4, 8, 12):
        clamp[index] &= 0xFC
    return bytes(clamp)


def _tag(key: UserKey, nonce: bytes, ciphertext: bytes) -> bytes:
    """Poly1305-AES as restic computes it: Poly1305 keyed with r and AES_k(nonce)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415 - only here
    from cryptography.hazmat.primitives.poly1305 import Poly1305  # noqa: PLC0415

    encryptor = Cipher(algorithms.AES(key.mac_k), modes.ECB()).encryptor()  # noqa: S305 - one block, the MAC nonce
    return Poly1305.generate_tag(_clamped(key.mac_r) + encryptor.update(nonce) + encryptor.finalize(), ciphertext)


def _ctr(key: UserKey, nonce: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415

    cipher = Cipher(algorithms.AES(key.encryption), modes.CTR(nonce)).encryptor()
    return cipher.update(data) + cipher.finalize()


def open_sealed(key: UserKey, sealed: bytes) -> bytes:
    """restic's ``nonce ‖ ciphertext ‖ tag``, authenticated, then decrypted."""
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise IntegrityError("a repository key's data is too short to be sealed")
    nonce, ciphertext, tag = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:-TAG_BYTES], sealed[-TAG_BYTES:]
    if not hmac.compare_digest(_tag(key, nonce, ciphertext), tag):
        raise IntegrityError("a repository key does not open with the data repository's password")
    return _ctr(key, nonce, ciphertext)


def seal(key: UserKey, nonce: bytes, plaintext: bytes) -> bytes:
    ciphertext = _ctr(key, nonce, plaintext)
    return nonce + ciphertext + _tag(key, nonce, ciphertext)


def _b64(document: dict[str, Any], field: str) -> bytes:
    try:
        return base64.b64decode(str(document[field]), validate=True)
    except (KeyError, binascii.Error):
        raise IntegrityError(f"a repository key has no valid {field!r}") from None


def master_key(document: dict[str, Any], password: bytes) -> bytes:
    """The repository's master key (restic's JSON of it) from one key file opened with ``password``."""
    if document.get("kdf") != "scrypt" or not all(isinstance(document.get(k), int) for k in ("N", "r", "p")):
        raise IntegrityError("a repository key that is not scrypt with integer N, r, p")
    user = derive(password, _b64(document, "salt"), document["N"], document["r"], document["p"])
    master = open_sealed(user, _b64(document, "data"))
    try:
        parsed = json.loads(master)
    except ValueError:
        raise IntegrityError("a repository key's master key is not JSON") from None
    if not isinstance(parsed, dict) or not {"mac", "encrypt"} <= parsed.keys():
        raise IntegrityError("a repository key's master key lacks 'mac' or 'encrypt'")
    return master


def fast_key_document(master: bytes, password: bytes, *, salt: bytes, nonce: bytes, created: str) -> bytes:
    """The key file (JSON bytes, its sha256 is its name) encrypting ``master`` under the fast parameters."""
    user = derive(password, salt, FAST_N, FAST_R, FAST_P)
    document = {"created": created, "username": "root", "hostname": "k3s-dr", "kdf": "scrypt",
                "N": FAST_N, "r": FAST_R, "p": FAST_P, "salt": base64.b64encode(salt).decode(),
                "data": base64.b64encode(seal(user, nonce, master)).decode()}
    return json.dumps(document).encode()


def is_fast(document: dict[str, Any]) -> bool:
    return document.get("kdf") == "scrypt" and (document.get("N"), document.get("r"), document.get("p")) == (
        FAST_N, FAST_R, FAST_P)


# --- the repository's keys directory ------------------------------------------------------------------------
def key_documents(repository: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, parsed JSON) of the repository's key files, bounded; unreadable ones left out."""
    keys = repository / "keys"
    try:
        names = sorted(entry.name for entry in os.scandir(keys) if entry.is_file(follow_symlinks=False))
    except OSError:
        return []
    found = []
    for name in names[:MAX_KEY_FILES]:
        if len(name) != 64 or not all(c in "0123456789abcdef" for c in name):
            continue
        try:
            fd = os.open(keys / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as handle:
                raw = handle.read(MAX_KEY_BYTES + 1)
            document = json.loads(raw) if len(raw) <= MAX_KEY_BYTES else None
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            found.append((name, document))
    return found


def fast_key_hint(repository: Path) -> str | None:
    """The name of the repository's fast key, if it has one (restic still proves it opens)."""
    return next((name for name, document in key_documents(repository) if is_fast(document)), None)


def add_fast_key(repository: Path, password: bytes, created: str) -> str:
    """Write the fast key into ``repository/keys`` (mode 0400, atomically); its name.

    Not :func:`dr_lib.atomic.write_atomic`: its temporary file is a sibling of the target, and restic
    lists ``keys/``, so ours is made beside the repository and renamed in.

    The master key comes from the first calibrated key the password opens (IntegrityError if none).
    """
    password = password.strip()  # restic reads a password file with its surrounding whitespace trimmed
    master = None
    for _name, document in key_documents(repository):
        try:
            master = master_key(document, password)
            break
        except IntegrityError:
            continue
    if master is None:
        raise IntegrityError(f"no key of {repository} opens with the data repository's password")
    raw = fast_key_document(master, password, salt=os.urandom(SALT_BYTES), nonce=os.urandom(NONCE_BYTES),
                            created=created)
    name = hashlib.sha256(raw).hexdigest()
    target = repository / "keys" / name
    temporary = repository.parent / f".k3s-dr-key-{name}.tmp"  # beside the repository: restic lists keys/
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o400)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.rename(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)  # the new name survives a power cut, as every write of dr_lib.atomic does
    return name


def remove_key(repository: Path, name: str) -> None:
    (repository / "keys" / name).unlink(missing_ok=True)
