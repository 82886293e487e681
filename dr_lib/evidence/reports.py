"""One report as the index sees it, read from its untrusted JSON by the reader of its kind.

Kinds are rows of :data:`READERS`: how a document is recognised and how its fields are read.
Every value goes through the typed reads of :mod:`dr_lib.evidence.files`, so a document with
wrong types, missing keys or huge strings gives a row with blanks, never a crash; nothing here
trusts a report's own judgement of its numbers (RTO/RPO met is recomputed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from dr_lib.evidence.control_frameworks import control_references
from dr_lib.evidence.files import mapping, number, sequence, text
from dr_lib.evidence.frameworks import BOOT_DRILL_REFERENCES, INCIDENT_REFERENCES, drill_references, requirement_ids

DRILL_FORMAT = "k3s-dr-drill-evidence"
BOOT_FORMAT = "k3s-dr-boot-drill-evidence"
INCIDENT_FORMAT = "k3s-dr-runbook-incident"  # built by dr_lib.evidence.incident from an incident directory
KINDS = ("synthetic", "archive", "boot", "checks", "incident")
UNKNOWN = "unknown"
_STAMP = re.compile(r"(\d{8}T\d{6}Z)")


@dataclass(frozen=True)
class ReportEntry:
    path: str  # relative to the indexed directory
    kind: str = UNKNOWN  # synthetic | archive | boot | checks | incident | unknown
    started: datetime | None = None
    verdict: str = UNKNOWN  # pass | fail | unknown
    limited_scope: bool = False
    rto_seconds: float | None = None
    rto_target_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_target_seconds: float | None = None
    archive: str = ""
    archive_sha256: str = ""
    kubernetes_source: str = ""
    kubernetes_target: str = ""
    detail: str = ""
    requirements: tuple[str, ...] = ()
    page: str = ""  # the report's HTML, relative to the indexed directory
    integrity: str = UNKNOWN  # verified | tampered | unsealed (dr_lib.evidence.manifest)
    integrity_detail: str = ""
    problem: str = ""  # why the report's evidence could not be read (empty: it was read)

    @property
    def verdict_text(self) -> str:
        if self.problem:
            return "unreadable"
        return f"{self.verdict} (limited scope)" if self.verdict == "pass" and self.limited_scope else self.verdict

    @property
    def rto_met(self) -> bool | None:
        return _met(self.rto_seconds, self.rto_target_seconds)

    @property
    def rpo_met(self) -> bool | None:
        return _met(self.rpo_seconds, self.rpo_target_seconds)


def _met(value: float | None, target: float | None) -> bool | None:
    return None if value is None or target is None else value <= target


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a report, as UTC (a time without zone is taken as UTC)."""
    shown = text(value, 64)
    if not shown:
        return None
    try:
        moment = datetime.fromisoformat(shown.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stamp_of(name: str) -> datetime | None:
    """The UTC time in a report directory's name (``20261128T181503Z-…``, ``checks-20261128T181503Z``)."""
    match = _STAMP.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _verdict(value: Any) -> str:
    shown = text(value, 16)
    return shown if shown in ("pass", "fail") else UNKNOWN


def is_drill(doc: dict[str, Any]) -> bool:
    return doc.get("format") == DRILL_FORMAT


def is_boot(doc: dict[str, Any]) -> bool:
    return doc.get("format") == BOOT_FORMAT


def is_checks(doc: dict[str, Any]) -> bool:
    """The host checks' JSON (dr_lib.checks.report.results_json): results and counts; more fields (a
    format name, times, hosts) welcome. Drill and boot evidence are recognised first (READERS' order)."""
    return isinstance(doc.get("results"), list) and isinstance(doc.get("counts"), dict)


def read_drill(doc: dict[str, Any], entry: ReportEntry) -> ReportEntry:
    kind = text(doc.get("kind"), 16)
    targets, identity, backup = mapping(doc.get("targets")), mapping(doc.get("identity")), mapping(doc.get("backup"))
    counts = mapping(doc.get("counts"))
    failed = text(doc.get("failed_step"), 40)
    detail = (f"{text(counts.get('expected'))} objects expected, {text(counts.get('equal'))} back and equal, "
              f"{text(counts.get('left-out'))} left out by plan") if counts else ""
    if failed:
        detail = f"failed at step {failed}" + (f"; {detail}" if detail else "")
    return replace(
        entry, kind=kind if kind in ("synthetic", "archive") else "synthetic",
        started=parse_time(doc.get("started")) or entry.started, verdict=_verdict(doc.get("verdict")),
        limited_scope=mapping(doc.get("scope")).get("limited") is True,
        rto_seconds=number(doc.get("rto_seconds")), rto_target_seconds=number(targets.get("rto_seconds")),
        rpo_seconds=number(doc.get("rpo_seconds")), rpo_target_seconds=number(targets.get("rpo_seconds")),
        archive=text(backup.get("archive")) or text(doc.get("archive")),
        archive_sha256=text(backup.get("sha256"), 64) or text(doc.get("archive_sha256"), 64),
        kubernetes_source=text(identity.get("kubernetes_version_source"), 64),
        kubernetes_target=text(identity.get("kubernetes_version_target"), 64),
        detail=detail, requirements=requirement_ids(ref for _step, ref in drill_references()),
    )


def read_boot(doc: dict[str, Any], entry: ReportEntry) -> ReportEntry:
    backup, host = mapping(doc.get("backup")), mapping(doc.get("host"))
    boots = [mapping(b) for b in sequence(doc.get("boots"))]
    passed = sum(1 for b in boots if b.get("verdict") == "pass")
    return replace(
        entry, kind="boot", started=parse_time(doc.get("started")) or entry.started,
        verdict=_verdict(doc.get("verdict")),
        rto_seconds=number(doc.get("boot_rto_seconds")), archive=text(backup.get("archive")),
        archive_sha256=text(backup.get("sha256"), 64),
        detail=f"{passed} of {len(boots)} boots passed on host {text(host.get('name'), 80) or '?'}",
        requirements=requirement_ids(BOOT_DRILL_REFERENCES),
    )


def read_checks(doc: dict[str, Any], entry: ReportEntry) -> ReportEntry:
    results = [mapping(r) for r in sequence(doc.get("results"))]
    counts = {text(k, 20): number(v) for k, v in mapping(doc.get("counts")).items()}
    bad = sum(int(counts.get(word) or 0) for word in ("fail", "error"))
    hosts = {text(r.get("host"), 80) for r in results}
    shown = ", ".join(f"{int(n)} {word}" for word, n in sorted(counts.items()) if word and n is not None)
    controls = {text(r.get("control"), 40) for r in results}
    return replace(
        entry, kind="checks", started=parse_time(doc.get("started")) or entry.started,
        verdict=UNKNOWN if not results else ("fail" if bad else "pass"),
        detail=f"{len(controls)} controls on {len(hosts)} host(s): {shown}",
        requirements=requirement_ids(ref for _control, ref in control_references(controls)),
    )


def is_incident(doc: dict[str, Any]) -> bool:
    return doc.get("format") == INCIDENT_FORMAT


def _incident_verdict(restore: dict[str, Any], diff: dict[str, Any]) -> tuple[str, str]:
    counts, diffs = mapping(restore.get("counts")), mapping(diff.get("counts"))
    if not restore or not diffs:
        return "unknown", "no restore.json or diff.json: the runbook did not reach its check"
    failed, missing, differs = number(counts.get("failed")), number(diffs.get("missing")), number(diffs.get("differs"))
    if failed is None or missing is None or differs is None:
        return "unknown", "restore.json or diff.json without their counts"
    shown = f"{missing:.0f} missing, {differs:.0f} different after the restore ({failed:.0f} objects failed)"
    return ("pass" if failed == missing == differs == 0 else "fail"), shown


def read_incident(doc: dict[str, Any], entry: ReportEntry) -> ReportEntry:
    declared, recovered = parse_time(doc.get("declared_at")), parse_time(doc.get("recovered_at"))
    verify, restore = mapping(doc.get("verify")), mapping(doc.get("restore"))
    created = parse_time(verify.get("created"))
    verdict, detail = _incident_verdict(restore, mapping(doc.get("diff")))
    rto = (recovered - declared).total_seconds() if declared and recovered and recovered >= declared else None
    rpo = (declared - created).total_seconds() if declared and created and declared >= created else None
    return replace(
        entry, kind="incident", started=declared or entry.started, verdict=verdict,
        rto_seconds=rto, rpo_seconds=rpo,
        archive=text(verify.get("archive")) or text(restore.get("archive")),
        archive_sha256=text(verify.get("sha256"), 64) or text(restore.get("archive_sha256"), 64),
        detail=f"runbook: declared → recovered; {detail}", requirements=requirement_ids(INCIDENT_REFERENCES),
    )


Reader = Callable[[dict[str, Any], ReportEntry], ReportEntry]
# (kind of document, how it is recognised, how it is read): the first row that matches reads it.
READERS: tuple[tuple[str, Callable[[dict[str, Any]], bool], Reader], ...] = (
    ("drill evidence (k3s-dr drill)", is_drill, read_drill),
    ("boot drill evidence (k3s-dr lab host drill)", is_boot, read_boot),
    ("host check results (pytest tests/checks, k3s-dr check)", is_checks, read_checks),
    ("a runbook incident directory (docs/runbook.md)", is_incident, read_incident),
)


def reader_for(doc: Any) -> Reader | None:
    if not isinstance(doc, dict):
        return None
    return next((read for _what, matches, read in READERS if matches(doc)), None)
