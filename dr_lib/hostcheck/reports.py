"""Where a check run leaves its evidence: ``<reports>/checks-<UTC %Y%m%dT%H%M%SZ>/`` with the
self-contained HTML report, JUnit XML, every result as JSON and ``SHA256SUMS`` (the same kind of
directory as the drill's: :mod:`dr_lib.reportdir`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dr_lib.checks.report import ControlResult, results_json
from dr_lib.evidence.control_frameworks import references_json
from dr_lib.reportdir import new_report_dir, seal_report, write_file
from dr_lib.signing.keys import load_signing_key

HTML_NAME = "report.html"
JUNIT_NAME = "junit.xml"
JSON_NAME = "checks.json"
_MAX_SAME_SECOND = 100  # runs started within one second get -1, -2 … after the time


def checks_dir_name(started: datetime) -> str:
    return f"checks-{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def create_checks_dir(root: Path, started: datetime) -> Path:
    """A new directory for this run; an older run's directory is never reused."""
    name = checks_dir_name(started)
    for attempt in range(_MAX_SAME_SECOND):
        candidate = name if attempt == 0 else f"{name}-{attempt}"
        if not os.path.lexists(root / candidate):
            return new_report_dir(root, candidate)
    return new_report_dir(root, name)  # every name taken: refused with the one clear error


def write_results(path: Path, results: Sequence[ControlResult]) -> Path:
    """Every result, and the framework requirements the judged controls support (for auditors and the index)."""
    frameworks = references_json({r.control for r in results})
    return write_file(path, json.dumps({**results_json(results), "frameworks": frameworks}, indent=2) + "\n")


def seal(directory: Path, signing_key: str | None = None) -> Path:
    """``SHA256SUMS`` over every file, written last (after pytest-html and JUnit wrote theirs); signed
    with ``signing_key`` when one is given (``--dr-signing-key``)."""
    return seal_report(directory, None if not signing_key else load_signing_key(Path(signing_key)))
