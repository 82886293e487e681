"""Encrypted archives at rest: ``<archive>.age`` with a sidecar that records the encryption.

``seal_archive`` encrypts a verified archive for the configured recipients and writes
``<archive>.age.verified.json``: the archive sidecar's fields (of the encrypted file, so
``is_verified`` and ``list`` work unchanged) plus ``encryption`` (scheme and public
recipients) and ``archive_sha256`` (of the plaintext inside). ``verify_sealed`` decrypts to a
private temporary copy, verifies it completely and refreshes that sidecar; ``unseal`` gives a
restore a verified plaintext archive beside it. Only the identity holder can do the last two.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib import __version__
from dr_lib.archive import format as fmt
from dr_lib.archive.access import VerifyResult, verify_archive
from dr_lib.archive.fsutil import atomic_write, os_problem
from dr_lib.archive.sidecar import read_sidecar, sidecar_path, write_sidecar
from dr_lib.atomic import fsync_dir, sha256_file
from dr_lib.errors import IntegrityError, UsageError
from dr_lib.offsite.crypto import (
    ENCRYPTED_SUFFIX,
    SCHEME,
    encrypt_file,
    is_encrypted,
    open_for_reading,
    parse_recipients,
)
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy


def _write_sealed_sidecar(sealed: Path, plain: VerifyResult, recipients: tuple[str, ...] | None,
                          now: datetime) -> dict[str, Any]:
    previous = _read_json(sidecar_path(sealed))
    encryption = {"scheme": SCHEME, "recipients": list(recipients)} if recipients is not None else \
        previous.get("encryption", {"scheme": SCHEME, "recipients": []})
    record = {"archive": sealed.name, "sha256": sha256_file(sealed), "bytes": sealed.stat().st_size,
              "objects": plain.objects, "verified_at": fmt.format_time(now), "tool_version": __version__,
              "encryption": encryption, "archive_sha256": plain.sha256, "archive_bytes": plain.bytes}
    atomic_write(sidecar_path(sealed), (json.dumps(record, indent=2) + "\n").encode())
    return record


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def seal_archive(archive: Path, recipients: tuple[str, ...], now: datetime) -> Path:
    """Encrypt a verified archive to ``<archive>.age`` beside it; the plaintext stays (the caller decides)."""
    if not recipients:
        raise UsageError("sealing needs at least one age recipient", hint="set offsite.recipients")
    plain = verify_archive(archive)
    sealed = archive.with_name(archive.name + ENCRYPTED_SUFFIX)
    encrypt_file(archive, sealed, parse_recipients(recipients))
    _write_sealed_sidecar(sealed, plain, recipients, now)
    return sealed


def verify_sealed(sealed: Path, identity: Path | None, now: datetime) -> dict[str, Any]:
    """Decrypt, verify completely, refresh the sidecar; the sidecar's content is returned."""
    with open_for_reading(sealed, identity) as plain_path:
        plain = verify_archive(plain_path)
    return _write_sealed_sidecar(sealed, plain, None, now)


def unseal(sealed: Path, identity: Path | None, now: datetime, trust: SignaturePolicy = NO_KEYS) -> Path:
    """A verified plaintext archive for ``<archive>.age``, published beside it (reused when present)."""
    if not is_encrypted(sealed) or fmt.archive_time(sealed.name[: -len(ENCRYPTED_SUFFIX)]) is None:
        raise UsageError(f"{str(sealed)!r} is not an encrypted archive: accepted is k3s-dr-<time>.tar.gz.age")
    final = sealed.with_name(sealed.name[: -len(ENCRYPTED_SUFFIX)])
    expected = _read_json(sidecar_path(sealed)).get("archive_sha256")
    if final.exists():
        if expected and sha256_file(final) != expected:
            raise UsageError(f"{final} exists and differs from the plaintext of {sealed.name}: refusing to replace it")
        return final
    with open_for_reading(sealed, identity, work_dir=sealed.parent) as plain_path:
        plain = verify_archive(plain_path, trust)
        if expected and plain.sha256 != expected:
            raise IntegrityError(f"{sealed.name} decrypts to an archive whose sha256 differs from its sidecar")
        try:
            final.hardlink_to(plain_path)  # never replaces: a file of that name appearing meanwhile wins
            fsync_dir(final.parent)
        except OSError as exc:
            raise os_problem(exc, "publish the decrypted archive as", final) from None
    write_sidecar(dataclasses.replace(plain, path=final), now)
    return final


def sealed_sidecar(sealed: Path) -> dict[str, Any] | None:
    """The sidecar of an encrypted archive when it matches the file's size, else None."""
    if read_sidecar(sealed) is None:
        return None
    record = _read_json(sidecar_path(sealed))
    return record if record.get("bytes") == sealed.stat().st_size else None
