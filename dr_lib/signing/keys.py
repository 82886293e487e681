"""Key files: made by ``k3s-dr keygen``, loaded by whatever signs or checks.

Formats (what ``openssl`` reads too): the signing key is PEM ``PRIVATE KEY`` (PKCS #8, unencrypted:
it is protected by its mode, 0600, and its root-only directory, like the server token), the verify
key PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo). Writing is atomic and never replaces a file: a new
key goes to a private temporary file that is ``link()``-ed to its name, which fails if the name
exists; ``--force`` first moves the old pair aside (never deletes it). A signing key is loaded only
when it is a regular file (not through a link), owned by the user loading it and readable by nobody
else: a key others can read signs for them too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.atomic import fsync_dir
from dr_lib.errors import UsageError
from dr_lib.signing.keyid import MAX_KEY_FILE_BYTES, key_id

SIGNING_KEY_NAME = "signing-key.pem"
VERIFY_KEY_NAME = "verify-key.pem"
SIGNING_KEY_MODE = 0o600
VERIFY_KEY_MODE = 0o644  # public: it goes offsite, to auditors, to every host that restores
KEY_DIR_MODE = 0o700
ACCEPTED_SIGNING = "an Ed25519 private key in PEM (`k3s-dr keygen` writes one), mode 0600, owned by this user"
ACCEPTED_VERIFY = "an Ed25519 public key in PEM (`k3s-dr keygen` writes one: verify-key.pem)"


@dataclass(frozen=True)
class SigningKey:
    key: Any  # cryptography's Ed25519PrivateKey
    key_id: str
    path: Path

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign(data))

    def verify_key(self) -> VerifyKey:
        return VerifyKey(self.key.public_key(), self.key_id, self.path)


@dataclass(frozen=True)
class VerifyKey:
    key: Any  # cryptography's Ed25519PublicKey
    key_id: str
    path: Path

    def verifies(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - loaded where keys are used

        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class KeyFiles:
    signing_key: Path
    verify_key: Path
    key_id: str
    moved_aside: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"signing_key": str(self.signing_key), "verify_key": str(self.verify_key), "key_id": self.key_id,
                "moved_aside": list(self.moved_aside)}


def _raw_public(public: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return bytes(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _read_bounded(fd: int, path: Path, what: str) -> bytes:
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise UsageError(f"the {what} {str(path)!r} is larger than {MAX_KEY_FILE_BYTES} bytes: not a key file")
    return data


def _open(path: Path, what: str, accepted: str, *, follow: bool) -> tuple[int, os.stat_result]:
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UsageError(f"the {what} {str(path)!r} does not exist: accepted is {accepted}") from None
    except OSError as exc:
        reason = "is a symbolic link" if exc.errno == 40 else f"cannot be read ({exc.strerror})"  # ELOOP
        raise UsageError(f"the {what} {str(path)!r} {reason}: accepted is {accepted}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UsageError(f"the {what} {str(path)!r} is not a regular file: accepted is {accepted}")
    return fd, info


def load_signing_key(path: Path) -> SigningKey:
    """The signing key at ``path``, refused (one line, never its content) unless it is private and ours."""
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    fd, info = _open(path, "signing key", ACCEPTED_SIGNING, follow=False)
    if info.st_uid != os.geteuid():
        os.close(fd)
        raise UsageError(f"the signing key {str(path)!r} belongs to uid {info.st_uid}, not to this user "
                         f"({os.geteuid()}): refused, accepted is {ACCEPTED_SIGNING}")
    if info.st_mode & 0o077:
        os.close(fd)
        raise UsageError(f"the signing key {str(path)!r} has mode {stat.S_IMODE(info.st_mode):04o}: others may read "
                         f"it, refused (chmod 0600, or make a new pair with `k3s-dr keygen --force`)")
    data = _read_bounded(fd, path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"the signing key {str(path)!r} is not readable as one: accepted is {ACCEPTED_SIGNING}")
    return SigningKey(key, key_id(_raw_public(key.public_key())), path)


def load_verify_key(path: Path) -> VerifyKey:
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    fd, _info = _open(path, "verify key", ACCEPTED_VERIFY, follow=True)
    data = _read_bounded(fd, path, "verify key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UsageError(f"the verify key {str(path)!r} is not readable as one: accepted is {ACCEPTED_VERIFY}") \
            from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"the verify key {str(path)!r} is a {type(key).__name__.removeprefix('_')} key of another "
                         f"algorithm: accepted is {ACCEPTED_VERIFY}")
    return VerifyKey(key, key_id(_raw_public(key)), path)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``data`` and exactly ``mode``; fails (FileExistsError) rather than replace anything."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _move_aside(path: Path, stamp: str) -> str | None:
    if not (path.exists() or path.is_symlink()):
        return None
    for counter in range(100):
        aside = path.with_name(f"{path.name}.{stamp}{'' if counter == 0 else f'.{counter}'}.old")
        try:
            os.link(path, aside, follow_symlinks=False)
        except FileExistsError:
            continue
        path.unlink()
        return str(aside)
    raise UsageError(f"cannot move {str(path)!r} aside: 100 older copies of this second exist")


def _key_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=KEY_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the key directory {str(directory)!r}: {exc.strerror}") from None
    if not directory.is_dir() or directory.is_symlink():
        raise UsageError(f"{str(directory)!r} is not a directory: accepted is a directory for the key pair")
    if directory.stat().st_mode & 0o022:
        raise UsageError(f"the key directory {str(directory)!r} is writable by others: refused (chmod 0700)")


def generate_keypair(directory: Path, *, force: bool = False, now: datetime | None = None) -> KeyFiles:
    """A new pair in ``directory``: ``signing-key.pem`` (0600) and ``verify-key.pem`` (0644)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    _key_dir(directory)
    signing, verify = directory / SIGNING_KEY_NAME, directory / VERIFY_KEY_NAME
    present = [p for p in (signing, verify) if p.exists() or p.is_symlink()]
    if present and not force:
        raise UsageError(f"{str(present[0])!r} exists: refusing to replace a key",
                         hint="pass --force to move the old pair aside (it is kept, never deleted)")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = tuple(m for m in (_move_aside(signing, stamp), _move_aside(verify, stamp)) if m)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        _write_new(signing, private, SIGNING_KEY_MODE)
        _write_new(verify, public, VERIFY_KEY_MODE)
        fsync_dir(directory)
    except OSError as exc:
        raise UsageError(f"cannot write the key pair in {str(directory)!r}: {exc.strerror}") from None
    return KeyFiles(signing, verify, key_id(_raw_public(key.public_key())), moved)
