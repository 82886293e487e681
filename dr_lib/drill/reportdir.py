"""The report directory: a new one per drill, files written atomically, a sha256 manifest last.

``reports/<UTC %Y%m%dT%H%M%SZ>-<drill id>/`` is created with ``mkdir`` (never ``exist_ok``): a
drill can never overwrite an older drill's evidence. The manifest is ``SHA256SUMS`` in the
format ``sha256sum -c`` reads, so an auditor checks a report with a stock tool; writing and
checking it is :mod:`dr_lib.evidence.manifest`, shared with every other kind of report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dr_lib.drill.redact import Scrubber
from dr_lib.errors import EnvironmentProblem
from dr_lib.evidence.files import write_file
from dr_lib.evidence.manifest import MANIFEST_NAME, check_manifest, report_files, write_manifest

__all__ = ["MANIFEST_NAME", "check_manifest", "create_report_dir", "report_dir_name", "scrub_directory",
           "write_file", "write_manifest"]

_TEXT_SUFFIXES = (".html", ".xml", ".json", ".txt", ".log", ".md")


def report_dir_name(started: datetime, drill_id: str) -> str:
    return f"{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{drill_id}"


def create_report_dir(root: Path, started: datetime, drill_id: str) -> Path:
    """A new, empty directory for this drill; refuses to reuse an existing one."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        directory = root / report_dir_name(started, drill_id)
        directory.mkdir(mode=0o755)
    except FileExistsError:
        raise EnvironmentProblem(f"report directory {str(root / report_dir_name(started, drill_id))!r} "
                                 "already exists; a drill never overwrites an older report") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the report directory under {str(root)!r}: {exc.strerror}",
                                 hint="pass --reports DIR with a writable directory") from None
    return directory


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
