"""The drill's report directory: ``reports/<UTC %Y%m%dT%H%M%SZ>-<drill id>/``, created new (never
reused), its files written atomically and sealed with ``SHA256SUMS`` (:mod:`dr_lib.reportdir`),
and scrubbed of every secret value the drill saw before the manifest is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dr_lib.drill.redact import Scrubber
from dr_lib.reportdir import (
    MANIFEST_NAME,
    REPORT_FILE_MODE,
    check_manifest,
    new_report_dir,
    report_files,
    seal_report,
    write_file,
    write_manifest,
)

__all__ = ["MANIFEST_NAME", "REPORT_FILE_MODE", "check_manifest", "create_report_dir", "report_dir_name",
           "report_files", "scrub_directory", "seal_report", "write_file", "write_manifest"]

_TEXT_SUFFIXES = (".html", ".xml", ".json", ".txt", ".log", ".md")


def report_dir_name(started: datetime, drill_id: str) -> str:
    return f"{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{drill_id}"


def create_report_dir(root: Path, started: datetime, drill_id: str) -> Path:
    """A new, empty directory for this drill; refuses to reuse an existing one."""
    return new_report_dir(root, report_dir_name(started, drill_id))


def scrub_directory(directory: Path, scrubber: Scrubber) -> int:
    """Remove every known secret value from the report's text files; returns how many were removed."""
    total = 0
    for path in report_files(directory):
        if path.suffix not in _TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        clean, count = scrubber.scrub(text)
        if count:
            write_file(path, clean.encode("utf-8", errors="surrogateescape"))
            total += count
    return total
