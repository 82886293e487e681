"""``verify`` and ``list``: one archive checked completely, and what a backup directory holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.archive.access import VerifyResult, object_counts, verify_archive
from dr_lib.archive.legacy import CHECKED, NOT_CHECKED, LegacyArchive, is_legacy_archive, read_legacy
from dr_lib.archive.links import LinkState
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.backup.catalog import ArchiveInfo, legacy_archives, scan
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
    legacy: LegacyArchive | None = None  # an archive of the seed's scripts: checked as far as its layout allows
    refusal: IntegrityError | None = None  # why the signature is not acceptable (the archive is intact otherwise)

    def to_dict(self) -> dict[str, Any]:
        result, manifest = self.result, self.result.manifest
        signature = result.signature
        summary = {"archive": str(result.path), "ok": self.refusal is None, "objects": result.objects,
                   "signature": signature.state, "key_id": signature.key_id or None,
                   "signature_problem": None if self.refusal is None else self.refusal.message,
                   "user_objects": result.user_objects, "bytes": result.bytes,
                   "sha256": result.sha256, "kinds": object_counts(manifest), "created": manifest.created,
                   "format_version": manifest.format_version,
                   "datastore": None if manifest.datastore is None else manifest.datastore.kind,
                   "seconds": round(result.seconds, 3), "sidecar_written": self.sidecar_written,
                   "format": "k3s-dr" if self.legacy is None else "legacy", "legacy": self.legacy is not None}
        if self.legacy is not None:
            summary |= {"signed": False, "checked": list(CHECKED), "not_checked": list(NOT_CHECKED),
                        "skipped_members": list(self.legacy.skipped)}
        return summary

    def text(self) -> str:
        result = self.result
        state = "REFUSED" if self.refusal else "ok"
        what = (f"{state}: {result.path} ({result.objects} objects, {result.user_objects} of them user objects, in "
                f"{len(result.manifest.files)} kinds, sha256 {result.sha256}, "
                + ("" if self.legacy else f"{result.signature.describe()}, ")
                + f"checked in {result.seconds:.2f} s)")
        if self.legacy is None:
            return what
        return (f"{what}\nlegacy archive of the seed's scripts, unsigned. Checked: {'; '.join(CHECKED)}.\n"
                f"Not checked: {'; '.join(NOT_CHECKED)}.")

    @property
    def exit_error(self) -> DRError | None:
        return self.refusal


def builtin_types(group: str, kind: str) -> tuple[str, bool] | None:
    """The built-in types a seed archive's objects are read as (a TypeTable): the restore planner's table,
    loaded when an archive is read, not when a command starts (``backup --help``)."""
    from dr_lib.restore.plan.builtin import by_kind  # noqa: PLC0415

    return by_kind(group, kind)


def verify(config: Config, options: VerifyOptions, reporter: Reporter) -> Verified:
    """Verify (raises when the archive is damaged or hostile) and judge its signature; when that is
    acceptable too, write its sidecar (a warning if that fails).

    A legacy archive (the seed's) is checked as far as its layout allows and gets no sidecar: a sidecar
    says k3s-dr verified every checksum of the file, which such an archive does not have. It was never
    signed either: with verify keys it is refused unless unsigned archives are allowed."""
    trust = signature_policy(config.trust, options.verify_keys, allow_unsigned=options.allow_unsigned)
    if is_legacy_archive(options.archive):
        legacy = read_legacy(options.archive, builtin_types)
        refusal = trust.refusal_error(legacy.verified.signature, f"{Path(options.archive).name} refused")
        return Verified(legacy.verified, sidecar_written=False, legacy=legacy, refusal=refusal)
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
    exists: bool = True  # False: the directory is missing (nothing listed; `list` says so)

    def to_dict(self) -> dict[str, Any]:
        return {"dir": str(self.directory), "dir_exists": self.exists,
                "archives": [a.to_dict() for a in self.archives],
                "links": {link.name: link.to_dict() for link in self.links}}


def _legacy_info(path: Path, links: list[LinkState]) -> ArchiveInfo:
    pointing = tuple(link.name for link in links if link.state == "ok" and link.target == path.name)
    created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    try:
        read = read_legacy(path, builtin_types).verified
    except IntegrityError as exc:
        return ArchiveInfo(path, created, path.stat().st_size, False, None, exc.message, pointing, None, legacy=True)
    return ArchiveInfo(path, created, read.bytes, False, read.objects, None, pointing, read.user_objects, legacy=True)


def list_archives(config: Config, directory: str | None) -> Listing:
    backup = config.backup
    where = Path(directory or backup.dir)
    if not where.is_dir():
        return Listing(where, [], [], exists=False)
    archives, links = scan(where, (backup.latest_link, backup.snapshot_link))
    archives += [_legacy_info(path, links) for path in legacy_archives(where)]
    archives.sort(key=lambda info: (info.created, info.path.name), reverse=True)
    return Listing(where, archives, links)
