"""What is in a backup directory: our archives, their sidecars and the links (read only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.access import read_manifest
from dr_lib.archive.legacy import is_legacy_name
from dr_lib.archive.links import LinkState, read_links
from dr_lib.archive.sidecar import is_verified, read_sidecar
from dr_lib.archive.usercount import archive_user_objects
from dr_lib.backup.rotation import ArchiveRecord
from dr_lib.errors import IntegrityError


@dataclass(frozen=True)
class ArchiveInfo:
    path: Path
    created: datetime
    bytes: int
    verified: bool
    objects: int | None  # None when the manifest cannot be read
    error: str | None = None
    links: tuple[str, ...] = ()  # names of the links pointing at it
    user_objects: int | None = None  # by dr_lib.archive.userobjects' rules; None when it cannot be read
    legacy: bool = False  # an archive of the seed's scripts (dr_lib.archive.legacy): unsigned, no checksums

    @property
    def record(self) -> ArchiveRecord:
        return ArchiveRecord(self.path.name, self.created, self.verified, self.user_objects, self.links)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.path.name, "path": str(self.path), "created": fmt.format_time(self.created),
                "bytes": self.bytes, "objects": self.objects, "user_objects": self.user_objects,
                "verified": self.verified, "links": list(self.links), "error": self.error,
                "format": "legacy" if self.legacy else "k3s-dr", "legacy": self.legacy}


def _objects(path: Path, verified: bool) -> tuple[int | None, str | None]:
    sidecar = read_sidecar(path) if verified else None
    if sidecar is not None:
        return sidecar.objects, None
    try:
        return read_manifest(path).objects, None
    except IntegrityError as exc:
        return None, exc.message


def scan(directory: Path, link_names: Sequence[str]) -> tuple[list[ArchiveInfo], list[LinkState]]:
    """Our archives in ``directory``, newest first, and the state of each link."""
    links = read_links(directory, link_names) if directory.is_dir() else []
    found = []
    for path in directory.iterdir() if directory.is_dir() else ():
        created = fmt.archive_time(path.name)
        if created is None or path.is_symlink() or not path.is_file():
            continue
        verified = is_verified(path)
        objects, error = _objects(path, verified)
        pointing = tuple(link.name for link in links if link.state == "ok" and link.target == path.name)
        found.append(ArchiveInfo(path, created, path.stat().st_size, verified, objects, error, pointing,
                                 None if error else archive_user_objects(path)))
    found.sort(key=lambda info: (info.created, info.path.name), reverse=True)
    return found, links


def legacy_archives(directory: Path) -> list[Path]:
    """The seed's archives in ``directory`` (regular files named like them), newest first by time of change."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if is_legacy_name(p.name) and not p.is_symlink() and p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def orphan_files(directory: Path) -> list[Path]:
    """Leftovers of killed runs (hidden temp files, spool dirs) and sidecars whose archive is gone."""
    leftovers = []
    for path in directory.iterdir():
        if path.name.startswith(fmt.TEMP_PREFIX):
            leftovers.append(path)
        elif path.name.endswith(fmt.SIDECAR_SUFFIX):
            archive = path.with_name(path.name[: -len(fmt.SIDECAR_SUFFIX)])
            if fmt.archive_time(archive.name) is not None and not archive.exists():
                leftovers.append(path)
    return leftovers


LEGACY_KEPT = "an archive of the seed's scripts: kept until a verified k3s-dr archive holding user objects exists"


def legacy_records(directory: Path, archives: list[ArchiveInfo], links: list[LinkState]) -> tuple[
        list[ArchiveRecord], dict[str, str]]:
    """The seed's archives as rotation records (their time of change; unverified), and while no verified
    archive of ours holds user objects, the protection that keeps every one of them."""
    records = []
    for path in legacy_archives(directory):
        pointing = tuple(link.name for link in links if link.state == "ok" and link.target == path.name)
        records.append(ArchiveRecord(path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC), False, None,
                                     pointing))
    replaced = any(info.verified and info.user_objects for info in archives)
    return records, ({} if replaced else dict.fromkeys((r.name for r in records), LEGACY_KEPT))
