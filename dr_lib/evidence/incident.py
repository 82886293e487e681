"""A runbook incident directory (docs/runbook.md) read as one document; :func:`dr_lib.evidence.reports.read_incident`
reads that: declared → recovered beside the drills.

The runbook leaves ``declared-at`` and ``recovered-at`` (UTC, one line each) and the JSON of its
commands (``verify.json``, ``restore.json``, ``diff.json``) in ``$INCIDENT_DIR``. Read here as one
document, every file bounded and confined like any report file; its RTO is the runbook's own —
declared to recovered, the time a person took, detection before it excluded — and its RPO the
archive's age when the disaster was declared. Nothing in it is trusted: a wrong or missing value
reads as absent and the verdict as unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dr_lib.evidence.files import Unreadable, read_json
from dr_lib.evidence.reports import INCIDENT_FORMAT
from dr_lib.reportdir import read_bounded, regular_file

MARKERS = ("declared-at", "recovered-at")
COMMAND_FILES = {"verify": "verify.json", "restore": "restore.json", "diff": "diff.json"}
MAX_TIME_BYTES = 64
MAX_JSON_BYTES = 8 << 20


def is_incident_dir(directory: Path) -> bool:
    return all(regular_file(directory, directory / name) is None for name in MARKERS)


def incident_document(directory: Path) -> dict[str, Any]:
    """The incident's files as one document (format INCIDENT_FORMAT); Unreadable when a marker cannot be read."""
    doc: dict[str, Any] = {"format": INCIDENT_FORMAT}
    for name in MARKERS:
        raw = read_bounded(directory, directory / name, MAX_TIME_BYTES)
        doc[name.replace("-", "_")] = raw.decode("ascii", errors="replace").strip()
    for key, name in COMMAND_FILES.items():
        if regular_file(directory, directory / name) is None:
            try:
                doc[key] = read_json(directory, directory / name, MAX_JSON_BYTES)
            except Unreadable as exc:
                doc[key] = {"unreadable": str(exc)}
    return doc
