"""Values of the offsite area: a local archive to push, a remote copy, what a push did."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib import __version__
from dr_lib.archive import format as fmt
from dr_lib.archive.rotation import ArchiveRecord
from dr_lib.errors import IntegrityError

RECORD_FORMAT = "k3s-dr-remote-copy"
RECORD_SUFFIX = ".verified.json"  # beside the copy, written last: its presence is what makes a copy good
GOOD, INCOMPLETE = "good", "incomplete"


@dataclass(frozen=True)
class LocalArchive:
    """A verified archive in the backup directory, as pushed."""

    path: Path
    sha256: str
    bytes: int
    objects: int
    created: datetime

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class CopyRecord:
    """What a target knows about one remote copy: written after the copy was read back and matched."""

    archive: str  # the archive's own name, k3s-dr-<time>.tar.gz
    copy: str  # the stored object's name (the archive name, + .age when encrypted)
    sha256: str  # of the stored bytes
    bytes: int
    archive_sha256: str  # of the plaintext archive
    archive_bytes: int
    objects: int
    encryption: dict[str, Any] | None
    verified_at: str
    tool_version: str = __version__

    @property
    def created(self) -> datetime:
        moment = fmt.archive_time(self.archive)
        if moment is None:
            raise IntegrityError(f"remote record names {self.archive!r}, not an archive name")
        return moment

    def to_dict(self) -> dict[str, Any]:
        return {"format": RECORD_FORMAT, "archive": self.archive, "copy": self.copy, "sha256": self.sha256,
                "bytes": self.bytes, "archive_sha256": self.archive_sha256, "archive_bytes": self.archive_bytes,
                "objects": self.objects, "encryption": self.encryption, "verified_at": self.verified_at,
                "tool_version": self.tool_version}


def record_json(record: CopyRecord) -> bytes:
    return (json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n").encode()


def parse_record(raw: bytes, where: str) -> CopyRecord:
    try:
        data = json.loads(raw)
        record = CopyRecord(str(data["archive"]), str(data["copy"]), str(data["sha256"]), int(data["bytes"]),
                            str(data["archive_sha256"]), int(data["archive_bytes"]), int(data["objects"]),
                            data.get("encryption"), str(data["verified_at"]), str(data.get("tool_version", "")))
        _ = record.created
    except (ValueError, KeyError, TypeError, AttributeError, IntegrityError):
        raise IntegrityError(f"{where}: not a readable {RECORD_FORMAT} record") from None
    if data.get("format") != RECORD_FORMAT:
        raise IntegrityError(f"{where}: format {data.get('format')!r}, expected {RECORD_FORMAT!r}")
    return record


@dataclass(frozen=True)
class RemoteCopy:
    """One copy on a target. Only ``state == "good"`` copies are ever pulled or counted as offsite."""

    target: str
    archive: str
    ref: str  # object key or restic snapshot id
    bytes: int
    state: str  # "good" | "incomplete"
    record: CopyRecord | None = None
    note: str = ""

    @property
    def created(self) -> datetime | None:
        return fmt.archive_time(self.archive)

    @property
    def good(self) -> bool:
        return self.state == GOOD and self.record is not None

    def rotation_record(self) -> ArchiveRecord | None:
        created = self.created
        return None if created is None else ArchiveRecord(self.archive, created, self.good)

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        created = self.created
        return {"target": self.target, "archive": self.archive, "ref": self.ref, "bytes": self.bytes,
                "state": self.state, "created": None if created is None else fmt.format_time(created),
                "encrypted": bool(record and record.encryption), "objects": record.objects if record else None,
                "archive_sha256": record.archive_sha256 if record else None,
                "verified_at": record.verified_at if record else None, "note": self.note}


@dataclass(frozen=True)
class PushOutcome:
    """What one target did with one archive."""

    target: str
    kind: str  # "s3" | "restic"
    archive: str
    ref: str
    action: str  # "pushed" | "present" (a good copy of the same archive was there already)
    bytes_sent: int
    stored_bytes: int
    seconds: float
    encrypted: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "type": self.kind, "archive": self.archive, "ref": self.ref,
                "action": self.action, "bytes_sent": self.bytes_sent, "stored_bytes": self.stored_bytes,
                "seconds": round(self.seconds, 3), "encrypted": self.encrypted, "verified": True,
                "details": self.details}
