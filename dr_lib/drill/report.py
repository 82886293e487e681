"""What the HTML report shows besides the summary (:mod:`dr_lib.drill.summary`): the title, the
failing objects with their reasons, the Step/RTO/RPO cells of pytest-html's table, and where the
static summary goes in pytest-html's page. Pure: HTML from recorded values, every value escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any

from dr_lib.drill.run import DrillRun
from dr_lib.drill.timeline import iso
from dr_lib.drill.verify import Verification

MAX_FAILING_ROWS = 50
# pytest-html 4 draws its environment table with JavaScript into this element: the summary goes
# before it, as static HTML. Its "generated on" line is local time without a zone: it is replaced.
_ENVIRONMENT = '<div id="environment-header">'
_GENERATED = re.compile(r"<p>Report generated on .*? by <a [^>]*>pytest-html</a>\s*(v[\w.+-]+)</p>", re.DOTALL)


def seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def title(run: DrillRun) -> str:
    return f"k3s-dr restore drill {run.drill_id}"


def failures_table(verification: Verification | None) -> str:
    if verification is None:
        return ""
    failures = verification.failures
    if not failures:
        return "<p id='drill-failures'>Every restored object equals its backed-up original and is healthy.</p>"
    rows = "".join(f"<tr><td>{escape(f.label)}</td><td>{escape(f.result)}</td>"
                   f"<td>{escape('; '.join(f.reasons))}</td></tr>" for f in failures[:MAX_FAILING_ROWS])
    more = (f"<p>… and {len(failures) - MAX_FAILING_ROWS} more (see evidence.json)</p>"
            if len(failures) > MAX_FAILING_ROWS else "")
    return (f"<h3>Failing objects ({len(failures)})</h3><table id='drill-failures'>"
            f"<tr><th>object</th><th>result</th><th>why</th></tr>{rows}</table>{more}")


def place_summary(page: str, summary: str, generated_iso: str) -> str:
    """The page with the summary above pytest-html's environment table (right after ``<body>`` when
    that table is not where pytest-html 4 puts it) and its generation time in UTC."""
    page = _GENERATED.sub(lambda m: f"<p>Report generated at {escape(generated_iso)} (UTC) by pytest-html "
                                    f"{escape(m.group(1))}</p>", page, count=1)
    if _ENVIRONMENT in page:
        return page.replace(_ENVIRONMENT, summary + _ENVIRONMENT, 1)
    head, found, tail = page.partition("<body>")
    return head + found + summary + tail if found else summary + page


_JUNIT_TIME = re.compile(r'(<testsuite [^>]*?timestamp=")([^"]+)(")')


def junit_in_utc(xml: str) -> str:
    """JUnit's suite timestamp (pytest writes local time with an offset) as UTC with a ``Z``."""
    def to_utc(match: re.Match[str]) -> str:
        try:
            moment = datetime.fromisoformat(match.group(2))
        except ValueError:
            return match.group(0)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return f"{match.group(1)}{iso(moment)}{match.group(3)}"
    return _JUNIT_TIME.sub(to_utc, xml, count=1)


def row_values(properties: dict[str, Any]) -> tuple[str, str, str]:
    """Step, RTO and RPO cells of one test row, from the properties its step recorded."""
    return (str(properties.get("step", "")), str(properties.get("rto", "—")), str(properties.get("rpo", "—")))
