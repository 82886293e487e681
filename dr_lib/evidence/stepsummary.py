"""``k3s-dr report summary``: the reports under a directory as a few Markdown lines. Pure.

Written for a CI job's summary page (``$GITHUB_STEP_SUMMARY``): per report the verdict, RTO and
RPO against their targets, the archive and whether the report's seal still verifies. Every value
comes from an untrusted report: table cells are cut short and their Markdown and HTML
characters escaped, so a report cannot add rows, links or markup to the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dr_lib.evidence.index import utc_text
from dr_lib.evidence.reports import ReportEntry

COLUMNS = ("report", "kind", "verdict", "RTO (target)", "RPO (target)", "archive", "seal")
MAX_CELL = 120
# Markdown and HTML specials a GitHub summary would interpret inside a table cell.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def cell(value: str) -> str:
    """One table cell: single line, at most MAX_CELL characters, specials escaped."""
    flat = _CONTROL.sub(" ", value).strip()
    if len(flat) > MAX_CELL:
        flat = flat[:MAX_CELL - 1] + "…"
    return _SPECIAL.sub(r"\\\1", flat) or "–"


def seconds_against(value: float | None, target: float | None) -> str:
    """``42 s (≤ 900 s) met``; blanks where a number is missing."""
    if value is None:
        return "–"
    shown = f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"  # decimals only where they matter
    if target is None:
        return shown
    return f"{shown} (≤ {target:.0f} s) {'met' if value <= target else 'MISSED'}"


def _verdict(entry: ReportEntry) -> str:
    shown = entry.verdict_text
    return shown.upper() if shown.startswith("fail") or shown == "unreadable" else shown


def _archive(entry: ReportEntry) -> str:
    if not entry.archive:
        return ""
    return f"{entry.archive} sha256:{entry.archive_sha256[:12]}" if entry.archive_sha256 else entry.archive


def row(entry: ReportEntry) -> str:
    when = utc_text(entry.started)
    values = [f"{entry.path} {when}".strip(), entry.kind, _verdict(entry),
              seconds_against(entry.rto_seconds, entry.rto_target_seconds),
              seconds_against(entry.rpo_seconds, entry.rpo_target_seconds), _archive(entry), entry.integrity]
    return "| " + " | ".join(cell(v) for v in values) + " |"


def overall(entries: Sequence[ReportEntry]) -> str:
    """The headline: every report passed, or how many did not."""
    if not entries:
        return "no report found"
    bad = [e for e in entries if e.verdict != "pass" or e.problem or e.integrity == "tampered"]
    return "all passed" if not bad else f"{len(bad)} of {len(entries)} did not pass"


def summary_markdown(entries: Sequence[ReportEntry], title: str) -> str:
    """A heading, the headline, and one table row per report (details under the table)."""
    lines = [f"### {cell(title)}: {overall(entries)}", ""]
    if entries:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += [row(e) for e in entries]
        notes = [f"- {cell(e.path)}: {cell(e.problem or e.detail)}" for e in entries if e.problem or e.detail]
        if notes:
            lines += ["", *notes]
    return "\n".join(lines) + "\n"
