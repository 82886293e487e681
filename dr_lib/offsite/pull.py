"""``pull``: bring a good remote copy home, decrypt it, verify it, and only then give it its name.

Everything happens in a hidden work directory inside the backup directory (same file system,
so publishing is one ``link()``, which never replaces an existing file). The archive appears
under its own name only after :func:`dr_lib.archive.verify_archive` passed, with its
``.verified.json`` sidecar; it is not promoted (the links stay where they are). A local
archive of the same name is reused when it is the same archive, and never overwritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.access import verify_archive
from dr_lib.archive.fsutil import ensure_private_dir, os_problem
from dr_lib.archive.lock import exclusive_lock
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.atomic import fsync_dir, sha256_file
from dr_lib.config import OffsiteConfig, duration_seconds
from dr_lib.errors import DRError, IntegrityError, RemoteMissing, UsageError
from dr_lib.offsite.crypto import decrypt_into, is_encrypted, plain_name
from dr_lib.offsite.datacopy import archive_data, pull_data
from dr_lib.offsite.model import RemoteCopy
from dr_lib.offsite.targets import Target, open_target, selected
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy


@dataclass(frozen=True)
class PullResult:
    target: str
    copy: RemoteCopy
    path: Path
    action: str  # "fetched" | "present"
    sha256: str
    objects: int
    encrypted: bool
    identical: bool  # the archive's sha256 equals the one recorded at push time
    seconds: float
    data: dict[str, Any] | None = None  # the repository data it references, brought home (None: it has none)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "archive": self.path.name, "path": str(self.path), "action": self.action,
                "remote": self.copy.ref, "sha256": self.sha256, "objects": self.objects, "encrypted": self.encrypted,
                "identical": self.identical, "verified": True, "seconds": round(self.seconds, 3), "data": self.data}


def choose_copy(copies: Sequence[RemoteCopy], name: str | None, target: str) -> RemoteCopy:
    """The good copy named (archive name, with or without .age), or the newest good one."""
    good = sorted((c for c in copies if c.good), key=lambda c: c.archive, reverse=True)
    if name in (None, "", "latest"):
        if not good:
            raise RemoteMissing(f"offsite target {target!r} holds no good copy",
                                hint="push one first; `k3s-dr list --remote` shows what is there")
        return good[0]
    wanted = plain_name(str(name))
    for copy in good:
        if copy.archive == wanted:
            return copy
    names = ", ".join(c.archive for c in good[:5]) or "none"
    raise RemoteMissing(f"offsite target {target!r} holds no good copy of {wanted!r}",
                        hint=f"newest good copies: {names}")


def _publish(work: Path, final: Path) -> None:
    try:
        os.link(work, final)
        fsync_dir(final.parent)
    except OSError as exc:
        raise os_problem(exc, "publish the pulled archive as", final) from None


def _fetch_into(target: Target, copy: RemoteCopy, directory: Path, identity: Path | None, *,
                deadline: float, now: datetime, trust: SignaturePolicy) -> tuple[Path, str, int]:
    work = directory / f"{fmt.TEMP_PREFIX}pull-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        fetched = target.fetch(copy, work, deadline)
        plain = fetched
        if is_encrypted(fetched):
            plain = decrypt_into(fetched, work, identity)
        if plain.name != copy.archive:
            raise IntegrityError(f"the copy of {copy.archive} unpacked as {plain.name}")
        result = verify_archive(plain, trust)
        final = directory / copy.archive
        _publish(plain, final)
        write_sidecar(dataclasses.replace(result, path=final), now)
        return final, result.sha256, result.objects
    finally:
        shutil.rmtree(work, ignore_errors=True)


def refuse_plaintext(copy: RemoteCopy, offsite: OffsiteConfig, kind: str) -> None:
    """A copy stored unencrypted is accepted only with ``offsite.encrypt: off``: whoever can write the
    bucket can put a plaintext archive where an encrypted one was, and nothing else would notice."""
    if offsite.encrypt == "off" or kind == "restic":  # restic encrypts every repository itself
        return
    encryption = copy.record.encryption if copy.record else None  # the record is the bucket's: the name decides
    if not encryption or not is_encrypted(copy.ref):
        raise IntegrityError(f"offsite target {copy.target!r}: the copy of {copy.archive} is not encrypted, and "
                             f"offsite.encrypt is {offsite.encrypt!r}: refused",
                             hint="set offsite.encrypt: off to accept plaintext copies (only for a bucket you trust)")


def pull_copy(target: Target, copy: RemoteCopy, directory: Path, identity: Path | None, *, timeout: float,
              now: datetime, lock_file: Path | None = None, trust: SignaturePolicy = NO_KEYS) -> PullResult:
    started = time.monotonic()
    deadline = time.monotonic() + timeout
    ensure_private_dir(directory)
    final = directory / copy.archive
    expected = copy.record.archive_sha256 if copy.record else ""
    encrypted = bool(copy.record and copy.record.encryption and is_encrypted(copy.ref))
    if final.exists():
        sha256 = sha256_file(final)
        if sha256 != expected:
            raise UsageError(f"{final} exists and differs from the remote copy: refusing to replace it",
                             hint="move it away to pull the remote copy")
        result = verify_archive(final, trust)
        return PullResult(target.name, copy, final, "present", sha256, result.objects, encrypted, True,
                          time.monotonic() - started, _pull_data(target, final, deadline, lock_file))
    path, sha256, objects = _fetch_into(target, copy, directory, identity, deadline=deadline, now=now, trust=trust)
    return PullResult(target.name, copy, path, "fetched", sha256, objects, encrypted, sha256 == expected,
                      time.monotonic() - started, _pull_data(target, path, deadline, lock_file))


def _pull_data(target: Target, archive: Path, deadline: float, lock_file: Path | None) -> dict[str, Any] | None:
    """The snapshots the archive references, from the target into the local data repository (under the backup
    lock: a backup's prune never sees them before their archive is in the directory)."""
    with archive_data(archive) as data:
        if data is None:
            return None
        with exclusive_lock(lock_file, "pull application data", wait_seconds=max(0.0, deadline - time.monotonic())) \
                if lock_file is not None else contextlib.nullcontext():
            return pull_data(data, target.data_repo(data.key_file), deadline)


def pull(offsite: OffsiteConfig, target_name: str | None, name: str | None, directory: Path,
         identity: Path | None, *, now: datetime, work_dir: Path | None = None,
         lock_file: Path | None = None, trust: SignaturePolicy = NO_KEYS) -> PullResult:
    """Pull from the target named, or from the first configured target that has the copy; the copy is
    refused when it is plaintext (unless ``offsite.encrypt: off``) or its signature is (``trust``)."""
    errors: list[DRError] = []
    for target_name_, config in selected(offsite, target_name):
        timeout = float(duration_seconds(config.timeout))
        try:
            target = open_target(target_name_, offsite, work_dir)
            copy = choose_copy(target.list_copies(time.monotonic() + timeout), name, target_name_)
        except DRError as exc:
            errors.append(exc)
            continue
        refuse_plaintext(copy, offsite, target.kind)
        return pull_copy(target, copy, directory, identity, timeout=timeout, now=now, lock_file=lock_file,
                         trust=trust)
    if len(errors) == 1:
        raise errors[0]
    raise RemoteMissing("no offsite target could provide the copy: " + "; ".join(str(e) for e in errors))
