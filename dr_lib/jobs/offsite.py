"""Offsite copies brought back: ``pull``, ``restore --from`` and ``ARCHIVE.age``, and ``list --remote``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive.lock import exclusive_lock
from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError, UsageError
from dr_lib.jobs.push import lock_path
from dr_lib.jobs.report import Reporter
from dr_lib.offsite.crypto import is_encrypted
from dr_lib.offsite.pull import PullResult, pull
from dr_lib.offsite.sealed import unseal
from dr_lib.offsite.targets import open_target, selected
from dr_lib.signing.policy import SignaturePolicy, signature_policy


def _identity(config: Config, option: str | None) -> Path:
    return Path(option or config.offsite.identity_file)


@dataclass(frozen=True)
class PullOptions:
    name: str | None = None  # default: the newest good copy
    target: str | None = None  # default: the first that has the copy
    directory: str | None = None  # default: config backup.dir
    identity: str | None = None  # default: config offsite.identity_file
    verify_keys: tuple[str, ...] = ()  # default: config trust.verify_keys
    allow_unsigned: bool = False


def fetch_archive(config: Config, options: PullOptions, trust: SignaturePolicy | None = None) -> PullResult:
    """Pull, decrypt and verify a copy, its signature by ``trust`` (default: the options' keys, else the
    configured ones) included, into the backup directory (``pull``, ``restore --from``)."""
    trust = trust or signature_policy(config.trust, options.verify_keys, allow_unsigned=options.allow_unsigned)
    with exclusive_lock(lock_path(config), "pull from offsite"):
        return pull(config.offsite, options.target, options.name, Path(options.directory or config.backup.dir),
                    _identity(config, options.identity), now=utc_now(), lock_file=Path(config.backup.lock_file),
                    trust=trust)


def fetch_for_restore(config: Config, source: str, archive: str | None, identity: str | None,
                      reporter: Reporter, *, trust: SignaturePolicy) -> str:
    """``restore --from REMOTE[:NAME]``: pull (decrypt, verify) into backup.dir; the path to restore."""
    if archive is not None:
        raise UsageError(f"restore got both ARCHIVE {archive!r} and --from {source!r}: accepted is one of them")
    target, _sep, name = source.partition(":")
    result = fetch_archive(config, PullOptions(name or None, target or None, None, identity), trust)
    reporter.note(f"k3s-dr: {result.action} {result.path.name} from offsite target {result.target} "
                  f"(verified, {result.objects} objects)")
    return str(result.path)


def archive_for_restore(config: Config, archive: str | None, source: str | None, identity: str | None,
                        reporter: Reporter, *, trust: SignaturePolicy) -> str | None:
    """What ``restore`` restores: ARCHIVE as given; for ``ARCHIVE.age`` a verified plaintext beside it;
    with ``--from REMOTE[:NAME]`` a copy pulled, decrypted and verified (signature included) into backup.dir."""
    if source:
        return fetch_for_restore(config, source, archive, identity, reporter, trust=trust)
    if archive is not None and is_encrypted(archive):
        plain = unseal(Path(archive), _identity(config, identity), utc_now(), trust)
        reporter.note(f"k3s-dr: decrypted {Path(archive).name} to {plain} (verified)")
        return str(plain)
    return archive


@dataclass(frozen=True)
class RemoteListing:
    targets: list[dict[str, Any]]  # per target: type, where, copies, good, incomplete, or its error
    errors: list[DRError]

    def to_dict(self) -> dict[str, Any]:
        return {"targets": self.targets}

    @property
    def exit_error(self) -> DRError | None:
        """Fails only when no target could be listed (one unreachable target of several is shown, not fatal)."""
        return self.errors[0] if self.errors and len(self.errors) == len(self.targets) else None


def remote_listing(config: Config, target: str | None) -> RemoteListing:
    listing: list[dict[str, Any]] = []
    errors: list[DRError] = []
    for name, target_config in selected(config.offsite, target):
        entry: dict[str, Any] = {"target": name, "type": target_config.type, "copies": [], "error": None}
        try:
            opened = open_target(name, config.offsite)
            entry["where"] = opened.where
            copies = opened.list_copies(None)
        except DRError as exc:
            entry["error"], entry["exit_code"] = str(exc), exc.exit_code
            errors.append(exc)
        else:
            entry["copies"] = [c.to_dict() for c in copies]
            entry["good"] = sum(1 for c in copies if c.good)
            entry["incomplete"] = len(copies) - entry["good"]
        listing.append(entry)
    return RemoteListing(listing, errors)
