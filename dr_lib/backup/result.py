"""The outcome of one backup run, as a value: printed as JSON, logged as one line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.errors import DRError


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    created: str
    objects: int
    kinds: dict[str, int]  # "configmaps": 12, "deployments.apps": 3, ...
    bytes: int
    sha256: str
    seconds: float
    verified: bool
    promoted: bool
    links: dict[str, str | None]  # link name → archive it points at after this run
    not_promoted_reason: str | None = None
    deleted: tuple[str, ...] = ()
    datastore: dict[str, Any] | None = None
    cluster: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, for tuning
    data: dict[str, Any] = field(default_factory=dict)  # the application-data collector's report
    partial: bool = False  # application data was missing (hooks with on-error=continue failed)
    user_objects: int | None = None  # of ``objects``, what users made (dr_lib.archive.userobjects)
    signature: dict[str, Any] = field(default_factory=lambda: {"state": "missing", "key_id": None, "reason": None})

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive), "created": self.created, "objects": self.objects,
            "user_objects": self.user_objects, "kinds": self.kinds,
            "kind_count": len(self.kinds), "bytes": self.bytes, "sha256": self.sha256,
            "seconds": round(self.seconds, 3), "verified": self.verified, "promoted": self.promoted,
            "not_promoted_reason": self.not_promoted_reason, "links": self.links, "deleted": list(self.deleted),
            "datastore": self.datastore, "cluster": self.cluster, "warnings": list(self.warnings),
            "phases": self.phases, "data": self.data, "partial": self.partial, "signature": self.signature,
        }

    def log_line(self, now: datetime) -> str:
        state = ("PARTIAL" if self.partial else "ok") if self.promoted else "NOT-PROMOTED"
        line = (f"{fmt.format_time(now)} k3s-dr backup {state} archive={self.archive.name} objects={self.objects} "
                f"kinds={len(self.kinds)} bytes={self.bytes} seconds={self.seconds:.2f} "
                f"datastore={self.datastore['kind'] if self.datastore else 'none'} deleted={len(self.deleted)}")
        return line if self.promoted else f"{line} reason={self.not_promoted_reason!r}"


def failure_line(now: datetime, error: DRError) -> str:
    return f"{fmt.format_time(now)} k3s-dr backup FAILED exit={error.exit_code} error={str(error)!r}"


def append_log(log_file: Path | None, line: str) -> str | None:
    """Append one line to the log file; a warning (not an error) when that is impossible."""
    if log_file is None:
        return None
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot append to the log file {str(log_file)!r}: {exc.strerror}"
    return None
