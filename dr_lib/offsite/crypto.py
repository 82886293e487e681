"""age encryption of archives: X25519 recipients from the config, the identity only to decrypt.

A backup host needs nothing secret to encrypt: the recipients are public keys. Only the
machine that restores needs the identity file, so stealing a bucket (or a backup disk) yields
nothing readable. age's STREAM format authenticates every 64 KiB chunk and the end of the
stream, so a flipped bit or a truncated file fails to decrypt instead of yielding bad data.
Encryption and decryption stream (memory stays flat); results are written atomically, mode
0600, and a failed decryption leaves no partial plaintext behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyrage

from dr_lib.archive import format as fmt
from dr_lib.archive.fsutil import os_problem, temp_path
from dr_lib.atomic import write_atomic_with
from dr_lib.errors import ConfigError, IntegrityError, UsageError, WrongIdentity

ENCRYPTED_SUFFIX = ".age"
SCHEME = "age-x25519"
_SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 - the format's prefix, not a secret


@dataclass(frozen=True)
class Encryption:
    """How a copy is encrypted, as recorded beside it (public keys only)."""

    scheme: str
    recipients: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "recipients": list(self.recipients)}


def recipient_list(raw: Sequence[str] | str) -> tuple[str, ...]:
    """The configured recipients as a tuple (the config accepts a list or comma-separated text)."""
    items = raw.split(",") if isinstance(raw, str) else raw
    return tuple(item.strip() for item in items if item.strip())


def parse_recipients(raw: Sequence[str] | str, key: str = "offsite.recipients") -> list[pyrage.x25519.Recipient]:
    parsed = []
    for text in recipient_list(raw):
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text))
        except pyrage.RecipientError:
            raise ConfigError(key, text, "age X25519 recipients (age1…, as `age-keygen -y` prints)") from None
    return parsed


def load_identities(path: Path) -> list[pyrage.x25519.Identity]:
    """The X25519 identities in an age identity file (``age-keygen`` output; '#' lines are comments)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"the age identity file {str(path)!r} does not exist",
                         hint="copy the identity (age-keygen output) there, or pass --identity FILE") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"the age identity file {str(path)!r} cannot be read: {reason}") from None
    identities = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            identities.append(pyrage.x25519.Identity.from_str(text))
        except pyrage.IdentityError:
            # Never echo the line: it may be a damaged secret key.
            raise UsageError(f"the age identity file {str(path)!r} line {number} is not an age X25519 identity",
                             hint=f"accepted are lines starting {_SECRET_PREFIX}, comments starting #") from None
    if not identities:
        raise UsageError(f"the age identity file {str(path)!r} holds no identity",
                         hint=f"accepted are lines starting {_SECRET_PREFIX} (age-keygen output)")
    return identities


def is_encrypted(path: Path | str) -> bool:
    return str(path).endswith(ENCRYPTED_SUFFIX)


def plain_name(name: str) -> str:
    return name[: -len(ENCRYPTED_SUFFIX)] if name.endswith(ENCRYPTED_SUFFIX) else name


def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
    try:
        write_atomic_with(target, write, mode=fmt.ARCHIVE_FILE_MODE, temp_name=temp_path(target).name)
    except OSError as exc:
        if exc.errno is not None:
            raise os_problem(exc, "write", target) from None
        raise  # pyrage's own failures arrive as OSError without errno: the caller names them


def encrypt_file(source: Path, target: Path, recipients: Sequence[pyrage.x25519.Recipient]) -> None:
    """Encrypt ``source`` to ``target`` (atomically, 0600) for every recipient."""
    if not recipients:
        raise UsageError("encryption needs at least one recipient", hint="set offsite.recipients")
    try:
        with source.open("rb") as plain:
            _write_atomically(target, lambda out: pyrage.encrypt_io(plain, out, list(recipients)))
    except pyrage.EncryptError as exc:
        raise IntegrityError(f"encrypting {source.name} failed: {exc}") from None
    except OSError as exc:
        raise os_problem(exc, "read", source) from None


def decrypt_file(source: Path, target: Path, identities: Sequence[pyrage.x25519.Identity]) -> None:
    """Decrypt ``source`` to ``target`` (atomically, 0600); nothing is left behind on failure.

    A wrong identity raises :class:`WrongIdentity`; a damaged or truncated file IntegrityError.
    """
    try:
        with source.open("rb") as sealed:
            _write_atomically(target, lambda out: pyrage.decrypt_io(sealed, out, list(identities)))
    except FileNotFoundError:
        raise UsageError(f"{str(source)!r} does not exist") from None
    except pyrage.DecryptError as exc:
        if "no matching keys" in str(exc).lower():
            raise WrongIdentity(f"{source.name}: none of the identities given opens it",
                                hint="use the age identity whose public key is among offsite.recipients "
                                     "when it was pushed") from None
        raise IntegrityError(f"{source.name}: cannot be decrypted ({exc}): damaged or tampered") from None
    except OSError as exc:
        if exc.errno is not None:
            raise os_problem(exc, "decrypt", source) from None
        # pyrage reports an authentication failure inside the stream as a bare OSError.
        raise IntegrityError(f"{source.name}: the encrypted data does not authenticate ({exc}): "
                             "damaged, truncated or tampered") from None


def decrypt_into(source: Path, directory: Path, identity_file: Path | str | None,
                 hint: str = "set offsite.identity_file or pass --identity FILE") -> Path:
    """``source`` (an ``.age`` archive) decrypted into ``directory`` under its plain name (0600,
    atomically); refused with ``hint`` when no identity is given."""
    if identity_file is None:
        raise UsageError(f"{source.name} is encrypted: an age identity is needed", hint=hint)
    target = directory / plain_name(source.name)
    decrypt_file(source, target, load_identities(Path(identity_file)))
    return target


@contextmanager
def open_for_reading(path: Path | str, identity_file: Path | str | None,
                     work_dir: Path | None = None) -> Iterator[Path]:
    """A readable plaintext archive for ``path``: itself when not encrypted, else a private decrypted copy.

    The copy lives in a new 0700 directory (under ``work_dir`` or the system temp dir) and is
    removed when the block ends. Callers wrap any archive path unconditionally::

        with open_for_reading(archive, config.offsite.identity_file) as plain:
            verify_archive(plain)
    """
    source = Path(path)
    if not is_encrypted(source):
        yield source
        return
    # A hidden work name: a killed run's leftover is swept like the backup's own temporary files.
    directory = Path(tempfile.mkdtemp(prefix=f"{fmt.TEMP_PREFIX}decrypt-", dir=work_dir))
    try:
        yield decrypt_into(source, directory, identity_file)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
