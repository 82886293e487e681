"""The evidence index as one static HTML page: counts, RTO and RPO over time (inline SVG), every
report in a table with its seal, and each framework requirement with the evidence for it.
Pure: entries in, markup out; every value from a report escaped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from dr_lib.evidence.frameworks import REQUIREMENTS
from dr_lib.evidence.htmlparts import STYLE, Cell, Raw, link, pairs, table, verdict_cell
from dr_lib.evidence.reports import ReportEntry
from dr_lib.evidence.svg import Point, seconds_label, trend_svg
from dr_lib.reportdir import MANIFEST_NAME

TITLE = "k3s-dr evidence index"
_DRILLS = ("synthetic", "archive", "boot", "incident")


def _utc(moment: datetime | None) -> str:
    return "unknown" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _measure(value: float | None, target: float | None, met: bool | None) -> Cell:
    if value is None:
        return "—"
    shown = f"{value:.1f} s" + ("" if target is None else f" / {seconds_label(target)}")
    css = {True: "pass", False: "fail"}.get(met, "") if met is not None else ""
    return Raw(f'<span class="{css}">{escape(shown)}</span>') if css else shown


def _integrity(entry: ReportEntry) -> Raw:
    return Raw(f'<span class="{escape(entry.integrity)}">{escape(entry.integrity_detail or entry.integrity)}</span>')


def _row(entry: ReportEntry) -> list[Cell]:
    sha = entry.archive_sha256
    return [_utc(entry.started), entry.kind, verdict_cell(entry.verdict_text),
            _measure(entry.rto_seconds, entry.rto_target_seconds, entry.rto_met),
            _measure(entry.rpo_seconds, entry.rpo_target_seconds, entry.rpo_met),
            Raw(f"{escape(entry.archive) or '—'}<br><code>{escape(sha[:16])}{'…' if len(sha) > 16 else ''}</code>")
            if entry.archive or sha else "—",
            f"{entry.kubernetes_source or '—'} → {entry.kubernetes_target or '—'}"
            if entry.kubernetes_source or entry.kubernetes_target else "—",
            _integrity(entry), " ".join(entry.requirements) or "—", entry.problem or entry.detail,
            link(entry.page or entry.path, entry.path)]


def _row_class(entry: ReportEntry) -> str:
    return "tampered" if entry.integrity == "tampered" else ("unreadable" if entry.problem else "")


def reports_table(entries: Sequence[ReportEntry]) -> str:
    newest_first = list(reversed(entries))
    headers = ("date (UTC)", "kind", "verdict", "RTO / target", "RPO / target", "archive, sha256",
               "Kubernetes source → target", "seal", "frameworks", "detail", "report")
    return table(headers, (_row(e) for e in newest_first), "index-reports", (_row_class(e) for e in newest_first))


def _points(entries: Sequence[ReportEntry], rpo: bool) -> list[Point]:
    return [Point(e.started, value, e.kind, e.verdict, e.path, flagged=e.integrity == "tampered")
            for e in entries
            if e.started is not None and e.kind in _DRILLS and not e.problem
            and (value := (e.rpo_seconds if rpo else e.rto_seconds)) is not None]


def _latest_target(entries: Sequence[ReportEntry], rpo: bool) -> float | None:
    targets = [e.rpo_target_seconds if rpo else e.rto_target_seconds for e in entries
               if e.integrity != "tampered" and not e.problem]
    return next((t for t in reversed(targets) if t is not None), None)


def trends(entries: Sequence[ReportEntry]) -> str:
    return (trend_svg("trend-rto", "RTO per drill (boot drills: boot RTO)", _points(entries, rpo=False),
                      _latest_target(entries, rpo=False))
            + trend_svg("trend-rpo", "RPO per drill", _points(entries, rpo=True), _latest_target(entries, rpo=True)))


def coverage_table(entries: Sequence[ReportEntry]) -> str:
    """Each requirement: how many reports support it, how many passed, the newest passing one."""
    rows: list[list[Cell]] = []
    for key, item in REQUIREMENTS.items():
        support = [e for e in entries if key in e.requirements and not e.problem]
        passed = [e for e in support if e.verdict == "pass" and e.integrity != "tampered"]
        newest = passed[-1] if passed else None
        rows.append([key, f"{item.framework} {item.clause} — {item.title}", item.asks,
                     f"{len(support)} ({len(passed)} passed and not tampered)",
                     link(newest.page or newest.path, f"{_utc(newest.started)} {newest.kind}") if newest else "none"])
    return table(("requirement", "framework and clause", "what it asks", "reports", "newest passing evidence"),
                 rows, "index-frameworks")


def _counts(entries: Sequence[ReportEntry], now: datetime, where: str) -> str:
    kinds = Counter(e.kind for e in entries)
    verdicts = Counter(e.verdict_text for e in entries)
    tampered = [e for e in entries if e.integrity == "tampered"]
    rows: list[tuple[str, Cell]] = [
        ("generated (UTC)", _utc(now)), ("directory", where), ("reports", str(len(entries))),
        ("by kind", ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"),
        ("by verdict", ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "none"),
        ("tampered (checksums do not match)",
         Raw(f'<span class="tampered">{len(tampered)}: {escape(", ".join(e.path for e in tampered))}</span>')
         if tampered else "0"),
        ("unsealed (no SHA256SUMS)", str(sum(1 for e in entries if e.integrity == "unsealed"))),
        ("unreadable", str(sum(1 for e in entries if e.problem))),
    ]
    return pairs(rows, "index-counts")


def render_index(entries: Sequence[ReportEntry], now: datetime, where: str) -> str:
    return "".join((
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>'
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{TITLE}</h1>", _counts(entries, now, where),
        "<h2>RTO and RPO over time</h2>", trends(entries),
        "<p>Dashed red line: the newest report's target. A drill with scope limits (synthetic application, "
        "simulated nodes, no volume data, no datastore, not production) measures the tool, not your production "
        "recovery: its verdict reads <em>pass (limited scope)</em>.</p>",
        "<h2>Reports</h2>", reports_table(entries),
        "<h2>Framework requirements and the evidence for each</h2>", coverage_table(entries),
        "<h2>Checking a report yourself</h2>",
        f"<p>In a report's directory, <code>sha256sum -c {MANIFEST_NAME}</code> (or <code>k3s-dr report verify "
        f"DIR</code>, which also finds files added after sealing) shows that every file is the one sealed when "
        "the report was written. Checksums alone do not show who sealed it: whoever can change a report can "
        f"write a new {MANIFEST_NAME}. They detect accidents and careless edits, not a deliberate forgery; copy "
        "reports to write-once storage to keep them as written.</p>",
        "</body></html>\n",
    ))
