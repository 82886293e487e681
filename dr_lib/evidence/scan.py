"""Find every report under a directory and read each one: its evidence and its seal.

A report is a directory holding ``evidence.json`` (drills, boot drills), a host-check results
JSON, or at least a ``SHA256SUMS``; a loose boot-drill evidence file (``lab host drill
--evidence FILE``) counts too. Directories that are none of these are searched a few levels
down (CI artifacts nest); a leaf directory that holds no report is listed as unreadable. Links
are not followed: a report is read only where it lies, inside the indexed directory.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from dr_lib.errors import UsageError
from dr_lib.evidence.files import Unreadable, read_json
from dr_lib.evidence.incident import incident_document, is_incident_dir
from dr_lib.evidence.manifest import UNSEALED, verify_seal
from dr_lib.evidence.reports import ReportEntry, is_checks, reader_for, stamp_of
from dr_lib.reportdir import MANIFEST_NAME, regular_file

EVIDENCE_NAME = "evidence.json"
INDEX_FILES = frozenset({"index.html", "index.csv", "index.png"})
MAX_EVIDENCE_BYTES = 32 << 20
MAX_DEPTH = 4
MAX_JSON_CANDIDATES = 8
MAX_REPORTS = 10_000


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _document(directory: Path) -> tuple[Any, str] | None:
    """The report's evidence document and its file name; None when the directory holds none.
    Raises :class:`Unreadable` when the evidence file is there but cannot be taken."""
    if regular_file(directory, directory / EVIDENCE_NAME) != "missing":
        return read_json(directory, directory / EVIDENCE_NAME, MAX_EVIDENCE_BYTES), EVIDENCE_NAME
    if is_incident_dir(directory):  # a runbook's incident directory: its own files, no evidence.json
        return incident_document(directory), "declared-at"
    candidates = sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))
    for path in candidates[:MAX_JSON_CANDIDATES]:
        try:
            doc = read_json(directory, path, MAX_EVIDENCE_BYTES)
        except Unreadable:
            continue
        if isinstance(doc, dict) and is_checks(doc):  # loose drill or boot files are reports of their own
            return doc, path.name
    return None


def _page(root: Path, directory: Path) -> str:
    pages = sorted(p for p in directory.glob("*.html") if regular_file(directory, p) is None)
    preferred = [p for p in pages if p.name == "report.html"] or pages
    return _relative(root, preferred[0]) if preferred else ""


def read_report_dir(root: Path, directory: Path) -> ReportEntry:
    seal = verify_seal(directory)
    entry = ReportEntry(_relative(root, directory), started=stamp_of(directory.name), page=_page(root, directory),
                        integrity=seal.status, integrity_detail=seal.describe())
    try:
        found = _document(directory)
    except Unreadable as exc:
        return replace(entry, problem=str(exc))
    if found is None:
        return replace(entry, problem="no evidence.json or check results the index can read")
    doc, _name = found
    reader = reader_for(doc)
    if reader is None:
        return replace(entry, problem=f"{EVIDENCE_NAME} is not evidence of a known kind")
    return reader(doc, entry)


def read_loose_file(root: Path, path: Path) -> ReportEntry | None:
    """A loose JSON file that is evidence (boot drill ``--evidence FILE``): unsealed by nature."""
    try:
        doc = read_json(path.parent, path, MAX_EVIDENCE_BYTES)
    except Unreadable:
        return None
    reader = reader_for(doc)
    if reader is None:
        return None
    entry = ReportEntry(_relative(root, path), started=stamp_of(path.name), integrity=UNSEALED,
                        integrity_detail="unsealed: a single file without SHA256SUMS")
    return reader(doc, entry)


def _holds_report(directory: Path) -> bool:
    return any(regular_file(directory, directory / name) != "missing" for name in (EVIDENCE_NAME, MANIFEST_NAME))


def _children(root: Path, directory: Path, found: list[ReportEntry]) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError as exc:
        found.append(ReportEntry(_relative(root, directory), problem=f"cannot be listed ({exc.strerror})"))
        return []


def _walk(root: Path, directory: Path, depth: int, found: list[ReportEntry]) -> None:
    for child in _children(root, directory, found):
        if len(found) >= MAX_REPORTS:
            return
        if child.name.startswith(".") or (depth == 0 and child.name in INDEX_FILES):
            continue
        if child.is_symlink():
            if child.is_dir():
                found.append(ReportEntry(_relative(root, child), problem="a symbolic link: not followed"))
            continue
        if child.is_dir():
            _visit_dir(root, child, depth, found)
        elif child.suffix == ".json" and child.is_file():
            entry = read_loose_file(root, child)
            if entry is not None:
                found.append(entry)


def _visit_dir(root: Path, directory: Path, depth: int, found: list[ReportEntry]) -> None:
    if _holds_report(directory):
        found.append(read_report_dir(root, directory))
        return
    entry = read_report_dir(root, directory)
    if not entry.problem:  # results JSON without a seal: a report all the same
        found.append(entry)
        return
    before = len(found)
    if depth < MAX_DEPTH:  # a folder of reports (CI artifacts nest, boot drills leave loose files)
        _walk(root, directory, depth + 1, found)
    if len(found) == before:
        found.append(entry)


def scan(root: Path) -> list[ReportEntry]:
    """Every report under ``root``, oldest first (reports without a time last)."""
    if not root.is_dir():
        raise UsageError(f"reports directory {str(root)!r} does not exist or is not a directory: "
                         "accepted is a directory of drill and check reports (default reports/)")
    found: list[ReportEntry] = []
    _walk(root, root, 0, found)
    return sorted(found, key=lambda e: (e.started is None, e.started.timestamp() if e.started else 0.0, e.path))
