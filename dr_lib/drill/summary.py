"""The auditor's summary at the top of a drill report: static HTML built from the evidence
document alone (so the page says exactly what evidence.json says), readable without JavaScript.

Verdict and scope first, then RTO and RPO against their targets (the drill's RPO beside the
schedule's), exceptions, who ran it and why, where the backup came from, what the RTO leaves
out, the timeline, the object counts reconciled with every left-out object and its reason,
every object's health and node, the run's identity, and the framework references.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from dr_lib.drill.scope import ARCHIVE
from dr_lib.drill.timeline import STEP_NAMES, STEP_TITLES, step_label
from dr_lib.evidence.files import mapping, number, sequence, text
from dr_lib.evidence.frameworks import REQUIREMENTS
from dr_lib.evidence.htmlparts import Cell, Raw, pairs, table, verdict_cell
from dr_lib.evidence.svg import Bar, seconds_label, timeline_svg

SUMMARY_ID = "drill-summary"
MAX_ROWS = 500
_CSS = """
#S{font-family:sans-serif;font-size:13px;color:#24292f;border:2px solid #d0d7de;border-radius:6px;
   padding:.4em 1em;margin:.6em 0 1.2em}
#S h2,#S h3,#S h4,#S p,#S li,#S td{color:#24292f}
#S table{border-collapse:collapse;margin:.3em 0 .8em}
#S th,#S td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}
#S th{background:#f6f8fa}
#S .pass{color:#1a7f37;font-weight:bold}#S .fail{color:#cf222e;font-weight:bold}
#S .limited{color:#9a6700;font-weight:bold}
"""
# Scoped to the summary: pytest-html's own styles (and its script-drawn tables) stay as they are.
STYLE = f"<style>{_CSS.replace('#S', '#' + SUMMARY_ID)}</style>"


def _moment(value: Any) -> datetime | None:
    shown = text(value, 40)
    try:
        return datetime.fromisoformat(shown.replace("Z", "+00:00")) if shown else None
    except ValueError:
        return None


def _offset(start: datetime | None, value: Any) -> float | None:
    moment = _moment(value)
    return None if start is None or moment is None else max(0.0, (moment - start).total_seconds())


def _met(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return "not measured"
    return "met" if value <= target else "NOT met"


def _measure(value: float | None, target: float | None, note: str = "") -> Raw:
    verdict = _met(value, target)
    css = {"met": "pass", "NOT met": "fail"}.get(verdict, "fail")
    shown = "—" if value is None else f"{value:.1f} s"
    goal = "—" if target is None else seconds_label(target)
    return Raw(f'<span class="{css}">{escape(shown)} measured / {escape(goal)} target: {escape(verdict)}</span>'
               + (f"<br>{escape(note)}" if note else ""))


def _schedule_rpo(evidence: dict[str, Any]) -> Cell:
    schedule, targets = mapping(evidence.get("schedule")), mapping(evidence.get("targets"))
    interval, target = number(schedule.get("schedule_rpo_seconds")), number(targets.get("rpo_seconds"))
    if interval is None:
        return "unknown: the drill was not given the backup schedule (config backup.interval)"
    verdict = "within" if target is not None and interval <= target else "NOT within"
    return Raw(f'<span class="{"pass" if verdict == "within" else "fail"}">up to {escape(seconds_label(interval))}'
               f" (a backup every {escape(seconds_label(interval))}), {verdict} the "
               f"{escape(seconds_label(target) if target is not None else '—')} target</span><br>"
               f"{escape(text(schedule.get('definition'), 400))}")


def _ci_link(url: str) -> Cell:
    if url.startswith(("https://", "http://")):
        return Raw(f'<a href="{escape(url)}">{escape(url)}</a>')
    return url


def overview(evidence: dict[str, Any]) -> str:
    identity, backup, targets = (mapping(evidence.get(k)) for k in ("identity", "backup", "targets"))
    scope = mapping(evidence.get("scope"))
    limits = [text(mapping(lim).get("id")) for lim in sequence(scope.get("limits"))]
    rows: list[tuple[str, Cell]] = [
        ("Verdict", verdict_cell(text(evidence.get("verdict_summary")) or text(evidence.get("verdict")))),
        ("Scope", f"limited — not covered: {', '.join(limits)} (see below)" if limits else "full"),
        ("RTO", _measure(number(evidence.get("rto_seconds")), number(targets.get("rto_seconds")))),
        ("Drill RPO", _measure(number(evidence.get("rpo_seconds")), number(targets.get("rpo_seconds")),
                               "the archive's age when the drill started: the changes a disaster then would "
                               "have lost" if _of_archive(evidence) else
                               "the age of the drill's own backup at the loss: it measures the drill, "
                               "not your backup schedule")),
        ("Schedule RPO", _schedule_rpo(evidence)),
        ("Exceptions", f"{len(exceptions(evidence))} (see below)" if exceptions(evidence) else "none"),
        ("Initiator", text(identity.get("initiator")) or "unknown"),
        ("Trigger", text(identity.get("trigger")) or "unknown"),
    ]
    if identity.get("ci_run_url"):
        rows.append(("CI run", _ci_link(text(identity.get("ci_run_url"), 400))))
    rows += [("Ticket", text(identity.get("ticket")) or "none given (k3s-dr drill --ticket)"),
             ("Reviewer", text(identity.get("reviewer")) or "none given (k3s-dr drill --reviewer)"),
             ("Started / finished (UTC)", f"{text(evidence.get('started'))} / {text(evidence.get('finished'))}"),
             ("Backup used", f"{text(backup.get('archive')) or '—'}, sha256 {text(backup.get('sha256'), 64) or '—'}")]
    return pairs(rows, "drill-overview")


def exceptions(evidence: dict[str, Any]) -> list[str]:
    found = [text(r, 600) for r in sequence(evidence.get("reasons"))]
    found += [f"TEST-ONLY option active (deliberate sabotage): {text(k)}={text(v)}"
              for k, v in mapping(evidence.get("test_only_options")).items()]
    found += [f"cleanup problem: {text(p, 600)}" for p in sequence(evidence.get("cleanup_problems"))]
    found += [f"data check failed: {text(mapping(c).get('reason'), 300)}" for c in sequence(evidence.get("data_checks"))
              if mapping(c).get("ok") is False]
    return found


def scope_section(evidence: dict[str, Any]) -> str:
    limits = [mapping(x) for x in sequence(mapping(evidence.get("scope")).get("limits"))]
    checks = "".join(f"<li>{escape(text(c, 300))}</li>" for c in sequence(evidence.get("checks")))
    if not limits:
        return f"<h3>Scope</h3><p>No scope limit applies.</p><p>Checks run:</p><ul>{checks}</ul>"
    rows = [(text(x.get("what"), 600), text(x.get("why"), 400), text(x.get("covered_by"), 300)) for x in limits]
    return ("<h3>Scope: what this drill did not cover</h3>"
            + table(("not covered", "why it matters", "covered instead by"), rows, "drill-scope")
            + f"<p>What it did check:</p><ul id='drill-checks'>{checks}</ul>")


def exceptions_section(evidence: dict[str, Any]) -> str:
    found = exceptions(evidence)
    items = "".join(f"<li>{escape(e)}</li>" for e in found) or "<li>none</li>"
    return f"<h3>Exceptions</h3><ul id='drill-exceptions'>{items}</ul>"


def _of_archive(evidence: dict[str, Any]) -> bool:
    return text(evidence.get("kind")) == ARCHIVE


def _came_from(evidence: dict[str, Any]) -> str:
    identity = mapping(evidence.get("identity"))
    if not _of_archive(evidence):
        return (f"the drill's own source cluster ({text(identity.get('provider'))}, Kubernetes "
                f"{text(identity.get('kubernetes_version_source')) or '—'}) seeded with its application")
    archive = mapping(evidence.get("archive"))
    source = mapping(archive.get("source_cluster"))
    return (f"your archive {text(archive.get('name')) or '—'}, {text(archive.get('obtained'), 300) or 'as given'}; "
            f"taken by k3s-dr {text(archive.get('tool_version')) or '—'} of the cluster {text(source.get('server'))} "
            f"(kube-system {text(source.get('kube_system_uid'))}, Kubernetes {text(source.get('kubernetes_version'))}"
            f"), which the drill never touched; signer: {text(archive.get('signer')) or 'unsigned'}")


def backup_section(evidence: dict[str, Any]) -> str:
    backup = mapping(evidence.get("backup"))
    age = "Age when the drill started (RPO)" if _of_archive(evidence) else "Age at the loss (drill RPO)"
    rows: list[tuple[str, Cell]] = [
        ("Came from", _came_from(evidence)),
        ("Archive", text(backup.get("archive")) or "—"), ("sha256", text(backup.get("sha256"), 64) or "—"),
        ("Created (UTC)", text(backup.get("created")) or "—"),
        ("Objects", f"{text(backup.get('objects')) or '—'} in {text(backup.get('kinds')) or '—'} kinds"),
        (age, seconds_label(v) if (v := number(evidence.get("rpo_seconds"))) is not None else "not measured"),
        ("Command", text(backup.get("command"), 400) or "—"),
    ]
    return "<h3>Where the backup came from</h3>" + pairs(rows, "drill-backup")


def rto_section(evidence: dict[str, Any]) -> str:
    definitions = mapping(evidence.get("definitions"))
    excluded = [mapping(x) for x in sequence(evidence.get("rto_excludes"))]
    rows = [(text(x.get("what")), text(x.get("why"), 300)) for x in excluded]
    return ("<h3>What the RTO measures, and what it excludes</h3>"
            f"<p>RTO: {escape(text(definitions.get('rto'), 400))}. RPO: {escape(text(definitions.get('rpo'), 300))}."
            "</p>" + table(("excluded", "why"), rows, "drill-rto-excludes"))


def timeline_section(evidence: dict[str, Any]) -> str:
    start, timeline = _moment(evidence.get("started")), mapping(evidence.get("timeline"))
    phases = [mapping(p) for p in sequence(timeline.get("phases"))]
    bars: list[Bar] = []
    for step in sorted((mapping(s) for s in sequence(timeline.get("steps"))), key=lambda s: text(s.get("started"))):
        name = text(step.get("step"))
        bars.append(Bar(step_label(name) if name in STEP_NAMES else name, _offset(start, step.get("started")) or 0.0,
                        number(step.get("seconds")) or 0.0, text(step.get("status")), text(step.get("message"), 200)))
        bars += [Bar(text(p.get("phase")), _offset(start, p.get("started")) or 0.0, number(p.get("seconds")) or 0.0,
                     "phase", text(p.get("detail"), 200)) for p in phases if p.get("step") == name]
    picture = timeline_svg(bars, total=number(evidence.get("seconds")) or 0.0,
                           loss=_offset(start, timeline.get("disaster")),
                           recovered=_offset(start, timeline.get("recovered")),
                           rto_target=number(mapping(evidence.get("targets")).get("rto_seconds")) or 0.0,
                           rto=number(evidence.get("rto_seconds")))
    return "<h3>Timeline: the phases against the RTO target</h3>" + picture


def _label(obj: dict[str, Any]) -> str:
    where = f"{text(obj.get('namespace'))}/" if obj.get("namespace") else ""
    return f"{text(obj.get('kind'))} {where}{text(obj.get('name'))}"


def counts_section(evidence: dict[str, Any]) -> str:
    counts = {k: int(number(v) or 0) for k, v in mapping(evidence.get("counts")).items()}
    if not counts:
        return "<h3>Objects</h3><p>Not verified: the drill did not reach its verify step.</p>"
    expected, left = counts.get("expected", 0), counts.get("left-out", 0)
    parts = [counts.get(k, 0) for k in ("equal", "differs", "missing", "unhealthy")]
    holds = counts.get("backed_up", 0) == expected + left and expected == sum(parts)
    line = (f"backed up {counts.get('backed_up', 0)} = expected {expected} + left out by the restore plan {left}; "
            f"expected {expected} = equal {parts[0]} + differs {parts[1]} + missing {parts[2]} + unhealthy {parts[3]}"
            f" — {'reconciled' if holds else 'DOES NOT ADD UP'}")
    per_kind = mapping(evidence.get("per_kind"))
    head = ("kind", "backed_up", "expected", "equal", "differs", "missing", "unhealthy", "left_out")
    kinds = table(head, ([k, *(text(mapping(c).get(h)) for h in head[1:])] for k, c in per_kind.items()),
                  "drill-completeness")
    left_out = [mapping(o) for o in sequence(evidence.get("objects")) if mapping(o).get("result") == "left-out"]
    rows = [(_label(o), "; ".join(text(r, 300) for r in sequence(o.get("reasons")))) for o in left_out[:MAX_ROWS]]
    more = f"<p>… and {len(left_out) - MAX_ROWS} more in evidence.json</p>" if len(left_out) > MAX_ROWS else ""
    return (f"<h3>Objects: the counts reconciled</h3><p id='drill-reconciled'>{escape(line)}</p>{kinds}"
            f"<h4>Left out by the restore plan ({len(left_out)}), each with its reason</h4>"
            + table(("object", "why it is not restored"), rows, "drill-left-out") + more)


def health_section(evidence: dict[str, Any]) -> str:
    simulated = {text(mapping(n).get("name")) for n in sequence(evidence.get("nodes")) if mapping(n).get("simulated")}
    objects = [mapping(o) for o in sequence(evidence.get("objects"))]
    shown = [o for o in objects if o.get("health") or o.get("nodes")]

    def where(obj: dict[str, Any]) -> str:
        nodes = [text(n, 80) for n in sequence(obj.get("nodes"))]
        return ", ".join((n or "not scheduled") + (" (simulated)" if n in simulated else "") for n in nodes) or "—"

    rows = [(_label(o), text(o.get("result")), text(o.get("health"), 300), where(o)) for o in shown[:MAX_ROWS]]
    listed = [mapping(n) for n in sequence(evidence.get("nodes"))]
    nodes = ", ".join(f"{text(n.get('name'))} ({'simulated by kwok' if n.get('simulated') else 'real'}"
                      f"{'' if n.get('ready') else ', not Ready'})" for n in listed)
    return ("<h3>Per-object health (ready replicas, claim phase, endpoints, nodes)</h3>"
            f"<p>Target cluster nodes: {escape(nodes) or 'not listed (the drill did not reach verify)'}</p>"
            + table(("object", "result", "health", "pods on node"), rows, "drill-health"))


def identity_section(evidence: dict[str, Any]) -> str:
    rows = [(k, text(v, 300)) for k, v in sorted(mapping(evidence.get("identity")).items())]
    steps = "".join(f"<li>{escape(step_label(n))}: {escape(t)}</li>" for n, t in STEP_TITLES.items())
    return ("<h3>Run identity</h3>" + pairs(rows, "drill-identity")
            + f"<h3>Steps</h3><ol id='drill-steps' style='list-style:none;padding-left:0'>{steps}</ol>")


def frameworks_section(evidence: dict[str, Any]) -> str:
    statuses = {text(mapping(s).get("step")): text(mapping(s).get("status"))
                for s in sequence(mapping(evidence.get("timeline")).get("steps"))}
    rows = []
    for ref in (mapping(r) for r in sequence(evidence.get("frameworks"))):
        step, key = text(ref.get("step")), text(ref.get("requirement"))
        item = REQUIREMENTS.get(key)
        clause = f"{item.framework} {item.clause} — {item.title}" if item else key
        rows.append((f"{step_label(step) if step in STEP_NAMES else step} ({statuses.get(step, 'did not run')})",
                     key, clause, text(ref.get("reason"), 300)))
    return ("<h3>Framework references: which step supports which requirement</h3>"
            + table(("drill step (status)", "requirement", "framework and clause", "why it supports it"), rows,
                    "drill-frameworks"))


def banner(evidence: dict[str, Any]) -> str:
    """``Verdict: PASS (limited scope)`` or ``Verdict: FAIL — failed at step 4 restore``."""
    verdict = text(evidence.get("verdict"), 16)
    limited = verdict == "pass" and mapping(evidence.get("scope")).get("limited") is True
    css = "limited" if limited else ("pass" if verdict == "pass" else "fail")
    failed = text(evidence.get("failed_step"), 40)
    where = f" — failed at step {step_label(failed) if failed in STEP_NAMES else failed}" if failed else ""
    shown = f"{(verdict or 'unknown').upper()}{' (limited scope)' if limited else ''}{where}"
    return f"<h2 id='drill-verdict' class='{css}'>Verdict: {escape(shown)}</h2>"


def summary_block(evidence: dict[str, Any], failures_html: str = "") -> str:
    """The whole static summary, to go above pytest-html's (script-drawn) environment table."""
    files = ("<p>Files: report.html, junit.xml, evidence.json, report.png, SHA256SUMS. Check them with "
             "<code>sha256sum -c SHA256SUMS</code> or <code>k3s-dr report verify DIR</code>: checksums show the "
             "files are as sealed, not who sealed them. Secret values are redacted everywhere.</p>")
    return "".join((f"{STYLE}<section id='{SUMMARY_ID}'>", banner(evidence), overview(evidence),
                    scope_section(evidence), exceptions_section(evidence), failures_html, timeline_section(evidence),
                    rto_section(evidence), backup_section(evidence), counts_section(evidence),
                    health_section(evidence), identity_section(evidence), frameworks_section(evidence), files,
                    "</section>"))
