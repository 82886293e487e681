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
from dr_lib.errors import DRError
from dr_lib.jobs.report import Reporter


@dataclass(frozen=True)
class Verified:
    result: VerifyResult
    sidecar_written: bool

    def to_dict(self) -> dict[str, Any]:
        result, manifest = self.result, self.result.manifest
        return {"archive": str(result.path), "ok": True, "objects": result.objects,
                "user_objects": result.user_objects, "bytes": result.bytes,
                "sha256": result.sha256, "kinds": object_counts(manifest), "created": manifest.created,
                "format_version": manifest.format_version,
                "datastore": None if manifest.datastore is None else manifest.datastore.kind,
                "seconds": round(result.seconds, 3), "sidecar_written": self.sidecar_written}


def verify(archive: str, reporter: Reporter) -> Verified:
    """Verify (raises when the archive fails); then write its sidecar, a warning if that fails."""
    result = verify_archive(archive)
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


def list_archives(config: Config, directory: str | None) -> Listing:
    backup = config.backup
    where = Path(directory or backup.dir)
    if not where.is_dir():
        return Listing(where, [], [], exists=False)
    archives, links = scan(where, (backup.latest_link, backup.snapshot_link))
    return Listing(where, archives, links)
