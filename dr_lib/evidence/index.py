"""``k3s-dr report index``: every report under a directory in one HTML page and one CSV file.

The CSV is what a spreadsheet or an audit tool loads; the page is what a person reads (the
trend pictures, the framework coverage). Both are written atomically beside the reports.
Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are quoted
with a leading ``'``: report contents are untrusted.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.evidence.indexpage import render_index
from dr_lib.evidence.reports import ReportEntry
from dr_lib.evidence.scan import scan
from dr_lib.reportdir import write_file

INDEX_HTML = "index.html"
INDEX_CSV = "index.csv"
CSV_COLUMNS = ("date_utc", "kind", "verdict", "rto_seconds", "rto_target_seconds", "rto_met", "rpo_seconds",
               "rpo_target_seconds", "rpo_met", "archive", "archive_sha256", "kubernetes_source",
               "kubernetes_target", "integrity", "integrity_detail", "frameworks", "detail", "report")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def utc_text(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def _flag(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def spreadsheet_safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_row(entry: ReportEntry) -> list[str]:
    values = [utc_text(entry.started), entry.kind, entry.verdict_text, _number(entry.rto_seconds),
              _number(entry.rto_target_seconds), _flag(entry.rto_met), _number(entry.rpo_seconds),
              _number(entry.rpo_target_seconds), _flag(entry.rpo_met), entry.archive, entry.archive_sha256,
              entry.kubernetes_source, entry.kubernetes_target, entry.integrity, entry.integrity_detail,
              " ".join(entry.requirements), entry.problem or entry.detail, entry.page or entry.path]
    return [spreadsheet_safe(v) for v in values]


def csv_text(entries: Sequence[ReportEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(e) for e in entries)
    return out.getvalue()


@dataclass(frozen=True)
class IndexResult:
    index_html: Path
    index_csv: Path
    entries: list[ReportEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        integrity = Counter(e.integrity for e in self.entries)
        return {
            "index_html": str(self.index_html), "index_csv": str(self.index_csv), "reports": len(self.entries),
            "kinds": dict(Counter(e.kind for e in self.entries)),
            "verdicts": dict(Counter(e.verdict_text for e in self.entries)),
            "tampered": sorted(e.path for e in self.entries if e.integrity == "tampered"),
            "unreadable": sorted(e.path for e in self.entries if e.problem),
            "unsealed": integrity.get("unsealed", 0),
        }


def write_index(directory: Path, now: datetime) -> IndexResult:
    """Scan ``directory`` and write its index.html and index.csv (atomically)."""
    entries = scan(directory)
    csv_path = write_file(directory / INDEX_CSV, csv_text(entries))
    html_path = write_file(directory / INDEX_HTML, render_index(entries, now, directory.resolve().name))
    return IndexResult(html_path, csv_path, entries)
