"""``verify`` and ``list``: one archive checked completely, and what a backup directory holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive.access import VerifyResult, object_counts, verify_archive
from dr_lib.archive.links import LinkState
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.backup.catalog import ArchiveInfo, scan
from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError, IntegrityError
from dr_lib.jobs.report import Reporter
from dr_lib.signing.policy import signature_policy


@dataclass(frozen=True)
class VerifyOptions:
    archive: str
    verify_keys: tuple[str, ...] = ()  # default: config trust.verify_keys
    allow_unsigned: bool = False  # accept an archive without a signature (never one with an invalid signature)


@dataclass(frozen=True)
class Verified:
    result: VerifyResult
    sidecar_written: bool
    refusal: IntegrityError | None = None  # why the signature is not acceptable (the archive is intact otherwise)

    def to_dict(self) -> dict[str, Any]:
        result, manifest = self.result, self.result.manifest
        signature = result.signature
        return {"archive": str(result.path), "ok": self.refusal is None, "objects": result.objects,
                "signature": signature.state, "key_id": signature.key_id or None,
                "signature_problem": None if self.refusal is None else self.refusal.message,
                "user_objects": result.user_objects, "bytes": result.bytes,
                "sha256": result.sha256, "kinds": object_counts(manifest), "created": manifest.created,
                "format_version": manifest.format_version,
                "datastore": None if manifest.datastore is None else manifest.datastore.kind,
                "seconds": round(result.seconds, 3), "sidecar_written": self.sidecar_written}


    @property
    def exit_error(self) -> DRError | None:
        return self.refusal


def verify(config: Config, options: VerifyOptions, reporter: Reporter) -> Verified:
    """Verify (raises when the archive is damaged or hostile) and judge its signature; when that is
    acceptable too, write its sidecar (a warning if that fails)."""
    trust = signature_policy(config.trust, options.verify_keys, allow_unsigned=options.allow_unsigned)
    result = verify_archive(options.archive, trust, enforce=False)
    refusal = trust.refusal_error(result.signature, f"{Path(options.archive).name} refused")
    if refusal is not None:
        return Verified(result, sidecar_written=False, refusal=refusal)
    try:
        write_sidecar(result, utc_now())
    except DRError as exc:
        reporter.warn(f"verified, but the sidecar could not be written: {exc}")
        return Verified(result, sidecar_written=False)
    return Verified(result, sidecar_written=True)


@dataclass(frozen=True)
class Listing:
    directory: Path
    archives: list[ArchiveInfo]  # newest first
    links: list[LinkState]

    def to_dict(self) -> dict[str, Any]:
        return {"dir": str(self.directory), "archives": [a.to_dict() for a in self.archives],
                "links": {link.name: link.to_dict() for link in self.links}}


def list_archives(config: Config, directory: str | None) -> Listing:
    backup = config.backup
    where = Path(directory or backup.dir)
    archives, links = scan(where, (backup.latest_link, backup.snapshot_link))
    return Listing(where, archives, links)
