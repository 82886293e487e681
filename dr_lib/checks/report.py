"""How control results are shown: JUnit properties, terminal table, HTML cells, JSON (pure).

Each test of the suite carries its control's identity as ``user_properties`` (so they reach
JUnit XML, the pytest-html columns and, with xdist, the controller) and, once judged, the
verdict, evidence and remediation filled with the host's own paths.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from dr_lib.checks.controls import BY_ID
from dr_lib.checks.model import Control, Finding

PROPERTY_KEYS = ("control", "severity", "title", "why", "remediation", "host", "verdict", "evidence", "problem",
                 "waiver", "area")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class ControlResult:
    host: str
    control: str
    severity: str
    title: str
    verdict: str  # pass | fail | waived | n/a | error
    evidence: str = ""
    problem: str = ""
    remediation: str = ""
    why: str = ""
    waiver: str = ""
    area: str = ""  # the verdicts module that judges the control (files, units, logs …)


def control_properties(item: Control, host: str) -> list[tuple[str, str]]:
    return [("control", item.id), ("severity", str(item.severity)), ("title", item.title), ("why", item.why),
            ("remediation", item.remediation), ("host", host), ("area", item.area)]


def finding_properties(finding: Finding, verdict: str, remediation: str, waiver: str = "") -> list[tuple[str, str]]:
    found = [("verdict", verdict), ("evidence", finding.evidence), ("remediation", remediation)]
    if finding.problem:
        found.append(("problem", finding.problem))
    if waiver:
        found.append(("waiver", waiver))
    return found


def result_from(properties: Iterable[tuple[str, object]], fallback_verdict: str) -> ControlResult | None:
    """The result a test's properties describe (later values win); None for a test without a control."""
    values: dict[str, str] = {}
    for key, value in properties:
        if key in PROPERTY_KEYS:
            values[key] = str(value)
    control_id = values.get("control")
    if control_id is None:
        return None
    item = BY_ID.get(control_id)
    return ControlResult(
        host=values.get("host", "?"), control=control_id, severity=values.get("severity", ""),
        title=values.get("title", item.title if item else ""), verdict=values.get("verdict", fallback_verdict),
        evidence=values.get("evidence", ""), problem=values.get("problem", ""),
        remediation=values.get("remediation", ""), why=values.get("why", ""), waiver=values.get("waiver", ""),
        area=values.get("area", ""),
    )


def sort_key(result: ControlResult) -> tuple[str, int, str]:
    return (result.host, SEVERITY_ORDER.get(result.severity, 9), result.control)


def terminal_lines(results: Sequence[ControlResult]) -> list[str]:
    """One line per control and host, worst first per host; the remediation under each failure."""
    lines = [f"{'HOST':<22} {'CONTROL':<15} {'SEVERITY':<9} {'VERDICT':<7} TITLE"]
    for result in sorted(results, key=sort_key):
        lines.append(f"{result.host:<22} {result.control:<15} {result.severity:<9} {result.verdict.upper():<7} "
                     f"{result.title}")
        if result.verdict in ("fail", "error"):
            if result.problem:
                lines.append(f"{'':<22} problem: {result.problem}")
            if result.remediation:
                lines.append(f"{'':<22} fix:     {result.remediation}")
        elif result.verdict == "waived":
            lines.append(f"{'':<22} waiver:  {result.waiver}")
    return lines


def summary_counts(results: Iterable[ControlResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    return counts


HTML_COLUMNS = ("Host", "Control", "Severity", "Title", "Verdict", "Evidence", "Remediation")


def html_header_cells() -> list[str]:
    return [f'<th class="sortable" data-column-type="{name.lower()}">{name}</th>' for name in HTML_COLUMNS]


def html_row_cells(result: ControlResult | None) -> list[str]:
    if result is None:
        return ["<td></td>"] * len(HTML_COLUMNS)
    evidence = result.evidence + (f" — problem: {result.problem}" if result.problem else "")
    if result.waiver:
        evidence += f" — waiver: {result.waiver}"
    values = (result.host, result.control, result.severity, result.title, result.verdict, evidence,
              result.remediation)
    return [f'<td class="col-{name.lower()}">{html.escape(value)}</td>' for name, value in zip(HTML_COLUMNS, values,
                                                                                                 strict=True)]


def results_json(results: Sequence[ControlResult]) -> dict[str, object]:
    ordered = sorted(results, key=sort_key)
    return {"results": [asdict(r) for r in ordered], "counts": summary_counts(ordered),
            "hosts": sorted({r.host for r in ordered})}
