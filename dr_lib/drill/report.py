"""What the HTML report shows besides pytest-html's own table: the verdict, the run's identity,
RTO and RPO against their targets, the backup used, completeness per kind and the failing
objects with their reasons. Pure: HTML fragments from recorded values, every value escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from dr_lib.drill.run import DrillRun
from dr_lib.drill.timeline import STEP_TITLES, iso, step_label
from dr_lib.drill.verdict import Verdict
from dr_lib.drill.verify import Verification

MAX_FAILING_ROWS = 50
_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e"}


def seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def title(run: DrillRun) -> str:
    return f"k3s-dr restore drill {run.drill_id}"


def _table(rows: list[tuple[str, str]], table_id: str) -> str:
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th><td>{escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<table id='{table_id}'>{body}</table>"


def verdict_banner(verdict: Verdict) -> str:
    colour = _COLOURS[verdict.verdict]
    word = "PASS" if verdict.passed else "FAIL"
    where = "" if verdict.failed_step is None else f" — failed at step {step_label(verdict.failed_step)}"
    reasons = "".join(f"<li>{escape(r)}</li>" for r in verdict.reasons)
    return (f"<h2 id='drill-verdict' style='color:{colour}'>Verdict: {word}{escape(where)}</h2>"
            + (f"<ul id='drill-reasons'>{reasons}</ul>" if reasons else ""))


def identity_rows(run: DrillRun, verdict: Verdict, finished_iso: str) -> list[tuple[str, str]]:
    ident = run.identity
    rows = [
        ("Drill", run.drill_id),
        ("Started (UTC)", iso(run.started)),
        ("Finished (UTC)", finished_iso),
        ("Tool", f"{ident.get('tool', 'k3s-dr')} {ident.get('tool_version', '')}"),
        ("Git commit", ident.get("git_commit", "unknown")),
        ("Provider", f"{ident.get('provider', '')} (destroy: {ident.get('destroy_mode', '')}, "
                     f"real node: {ident.get('real_node', 'no')})"),
        ("Kubernetes (source → target)", f"{ident.get('kubernetes_version_source', '—')} → "
                                         f"{ident.get('kubernetes_version_target', '—')}"),
        ("RTO measured / target", f"{seconds_text(verdict.rto_seconds)} / {verdict.targets.rto_seconds} s"),
        ("RPO measured / target", f"{seconds_text(verdict.rpo_seconds)} / {verdict.targets.rpo_seconds} s"),
    ]
    if run.backup is not None:
        rows += [("Backup archive", run.backup.archive.name), ("Backup sha256", run.backup.sha256),
                 ("Backup created (UTC)", iso(run.backup.created)),
                 ("Backup objects", f"{run.backup.objects} in {run.backup.kinds} kinds")]
    if run.test_options:
        rows.append(("TEST-ONLY options (sabotage)", ", ".join(f"{k}={v}" for k, v in run.test_options.items())))
    return rows


def completeness_table(verification: Verification) -> str:
    head = ("kind", "backed_up", "expected", "equal", "differs", "missing", "unhealthy", "left_out")
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (kind, *(c[h] for h in head[1:])))
                   + "</tr>" for kind, c in verification.per_kind().items())
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<h3>Completeness per kind</h3><table id='drill-completeness'><tr>{header}</tr>{rows}</table>"


def failures_table(verification: Verification) -> str:
    failures = verification.failures
    if not failures:
        return "<p id='drill-failures'>Every restored object equals its backed-up original and is healthy.</p>"
    rows = "".join(f"<tr><td>{escape(f.label)}</td><td>{escape(f.result)}</td>"
                   f"<td>{escape('; '.join(f.reasons))}</td></tr>" for f in failures[:MAX_FAILING_ROWS])
    more = (f"<p>… and {len(failures) - MAX_FAILING_ROWS} more (see evidence.json)</p>"
            if len(failures) > MAX_FAILING_ROWS else "")
    return (f"<h3>Failing objects ({len(failures)})</h3><table id='drill-failures'>"
            f"<tr><th>object</th><th>result</th><th>why</th></tr>{rows}</table>{more}")


def summary_html(run: DrillRun, verdict: Verdict, finished_iso: str) -> list[str]:
    parts = [verdict_banner(verdict), _table(identity_rows(run, verdict, finished_iso), "drill-identity")]
    steps = "".join(f"<li>{escape(step_label(name))}: {escape(text)}</li>" for name, text in STEP_TITLES.items())
    parts.append(f"<h3>Steps</h3><ol id='drill-steps' style='list-style:none;padding-left:0'>{steps}</ol>")
    if run.verification is not None:
        parts += [failures_table(run.verification), completeness_table(run.verification)]
    parts.append("<p>Files: report.html, junit.xml, evidence.json, SHA256SUMS (check with "
                 "<code>sha256sum -c SHA256SUMS</code>). Secret values are redacted everywhere.</p>")
    return parts


def row_values(properties: dict[str, Any]) -> tuple[str, str, str]:
    """Step, RTO and RPO cells of one test row, from the properties its step recorded."""
    return (str(properties.get("step", "")), str(properties.get("rto", "—")), str(properties.get("rpo", "—")))
