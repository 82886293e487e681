"""A runbook incident directory (what docs/runbook.md leaves in $INCIDENT_DIR) in `k3s-dr report
index`: kind incident, the runbook's declared → recovered time as its RTO, the archive's age at
declaration as its RPO, the verdict from the restore and the diff; tampered and hostile ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from dr_lib.evidence.scan import scan
from dr_lib.evidence.svg import SHAPES

SHA = "cd" * 32


def incident(root: Path, name: str = "20261204T101500Z", *, declared: str = "2026-12-04T10:15:00Z",
             recovered: str = "2026-12-04T10:25:25Z", missing: int = 0, failed: int = 0,
             extra: dict[str, bytes] | None = None) -> Path:
    """The files the runbook writes, sealed as its step 7 seals them (sha256sum -- * > SHA256SUMS)."""
    directory = root / name
    directory.mkdir(parents=True)
    files: dict[str, bytes] = {
        "declared-at": f"{declared}\n".encode(), "recovered-at": f"{recovered}\n".encode(),
        "verify.json": json.dumps({"archive": "/b/k3s-dr-20261204T093000Z.tar.gz", "sha256": SHA,
                                   "created": "2026-12-04T09:30:00Z", "ok": True}).encode(),
        "restore.json": json.dumps({"archive": "/b/k3s-dr-20261204T093000Z.tar.gz", "archive_sha256": SHA,
                                    "complete": failed == 0, "counts": {"created": 40, "failed": failed}}).encode(),
        "diff.json": json.dumps({"counts": {"missing": missing, "differs": 0, "same": 40}}).encode(),
        "log.txt": b"k3s disaster declared\n", **(extra or {})}
    for file, data in files.items():
        (directory / file).write_bytes(data)
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {file}\n" for file, data in sorted(files.items()))
    (directory / "SHA256SUMS").write_text(sums)
    return directory


def _only(root: Path) -> Any:
    [entry] = scan(root)
    return entry


def test_an_incident_is_indexed_with_the_runbooks_time(tmp_path: Path) -> None:
    incident(tmp_path)
    entry = _only(tmp_path)
    assert (entry.kind, entry.verdict, entry.integrity, entry.problem) == ("incident", "pass", "verified", "")
    assert entry.rto_seconds == 625.0, "declared 10:15:00 → recovered 10:25:25"
    assert entry.rpo_seconds == 45 * 60.0, "the archive's age when the disaster was declared"
    assert entry.archive.endswith("k3s-dr-20261204T093000Z.tar.gz") and entry.archive_sha256 == SHA
    assert entry.started is not None and entry.started.isoformat() == "2026-12-04T10:15:00+00:00"
    assert entry.requirements and "incident" in SHAPES


@pytest.mark.parametrize(("missing", "failed"), [(3, 0), (0, 2)])
def test_objects_missing_after_the_runbook_fail_it(tmp_path: Path, missing: int, failed: int) -> None:
    incident(tmp_path, missing=missing, failed=failed)
    entry = _only(tmp_path)
    assert entry.verdict == "fail" and f"{missing} missing" in entry.detail


def test_an_edited_file_is_flagged_tampered(tmp_path: Path) -> None:
    directory = incident(tmp_path)
    (directory / "recovered-at").write_text("2026-12-04T10:16:00Z\n")  # a better RTO, written afterwards
    entry = _only(tmp_path)
    assert entry.integrity == "tampered" and entry.kind == "incident"


@pytest.mark.parametrize(("declared", "recovered", "extra"), [
    ("2026-12-04T10:15:00Z", "2026-12-04T09:00:00Z", {}),  # recovered before declared
    ("not a time", "2026-12-04T10:25:25Z", {}),
    ("2026-12-04T10:15:00Z", "2026-12-04T10:25:25Z", {"diff.json": b"{\"counts\": [1, 2]}"}),
    ("2026-12-04T10:15:00Z", "2026-12-04T10:25:25Z", {"restore.json": b"\xff\xfe not json"}),
])
def test_hostile_incident_files_read_as_absent_never_a_crash(tmp_path: Path, declared: str, recovered: str,
                                                             extra: dict[str, bytes]) -> None:
    incident(tmp_path, declared=declared, recovered=recovered, extra=extra)
    entry = _only(tmp_path)
    assert entry.kind == "incident" and entry.problem == ""
    assert entry.rto_seconds is None or entry.verdict == "unknown"


def test_a_huge_marker_file_makes_the_report_unreadable_not_a_memory_hog(tmp_path: Path) -> None:
    incident(tmp_path, extra={"declared-at": b"2026-12-04T10:15:00Z" + b" " * 10_000})
    entry = _only(tmp_path)
    assert entry.problem and entry.verdict_text == "unreadable"


def test_a_directory_with_only_one_marker_is_not_an_incident(tmp_path: Path) -> None:
    directory = incident(tmp_path)
    (directory / "recovered-at").unlink()
    assert _only(tmp_path).kind != "incident"
