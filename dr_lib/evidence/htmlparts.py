"""Static HTML pieces every report page shares: tables with every cell escaped, links confined to
relative paths, the framework references table. No script anywhere: a page reads the same in a
browser, a mail client or a PDF printer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from dr_lib.evidence.frameworks import REQUIREMENTS, Reference

STYLE = """
body{font-family:sans-serif;font-size:14px;color:#24292f;margin:1.5em;max-width:1300px}
table{border-collapse:collapse;margin:.4em 0 1em}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
#index-reports td:first-child{white-space:nowrap}
.pass{color:#1a7f37;font-weight:bold}.fail,.tampered,.unreadable{color:#cf222e;font-weight:bold}
.limited{color:#9a6700;font-weight:bold}.unknown,.unsealed{color:#6e7781}
.box{border:2px solid #d0d7de;border-radius:6px;padding:.6em 1em;margin:.6em 0 1.2em}
code{background:#f6f8fa;padding:0 3px}
"""


@dataclass(frozen=True)
class Raw:
    """Markup already built from escaped parts: put into a cell as it is."""

    html: str


Cell = str | Raw


def cell(value: Cell, css: str = "") -> str:
    body = value.html if isinstance(value, Raw) else escape(value)
    return f'<td class="{escape(css)}">{body}</td>' if css else f"<td>{body}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell]], table_id: str,
          classes: Iterable[str] | None = None) -> str:
    """A table; ``classes`` gives each row a CSS class (a verdict colour), in order."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    css = list(classes) if classes is not None else []
    body = "".join(
        f'<tr class="{escape(css[i]) if i < len(css) else ""}">' + "".join(cell(c) for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f'<table id="{escape(table_id)}"><tr>{head}</tr>{body}</table>'


def pairs(rows: Iterable[tuple[str, Cell]], table_id: str) -> str:
    """A two-column table of names and values."""
    body = "".join(f"<tr><th>{escape(name)}</th>{cell(value)}</tr>" for name, value in rows)
    return f'<table id="{escape(table_id)}">{body}</table>'


def link(path: str, text: str) -> Raw:
    """A link to a file beside the page: the path is percent-encoded, so no name can become a scheme
    (``javascript:``) or leave the page's directory through markup."""
    if not path:
        return Raw(escape(text))
    return Raw(f'<a href="./{escape(quote(path))}">{escape(text)}</a>')


def verdict_cell(text: str) -> Raw:
    css = "limited" if "limited" in text else text.split(" ", 1)[0]
    return Raw(f'<span class="{escape(css)}">{escape(text)}</span>')


def references_table(rows: Sequence[tuple[str, Reference]], first_header: str, table_id: str) -> str:
    """(what, reference) rows: which step or control supports which requirement, and why."""
    body = [(what, ref.requirement, f"{REQUIREMENTS[ref.requirement].framework} {REQUIREMENTS[ref.requirement].clause}"
             f" — {REQUIREMENTS[ref.requirement].title}", ref.reason) for what, ref in rows]
    return table((first_header, "requirement", "framework and clause", "why it supports it"), body, table_id)
