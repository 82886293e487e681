"""The metric names a PromQL expression reads — a small tokenizer, enough for our rules and panels
(pure): strings, label matchers, range selectors and grouping clauses are dropped, then every
identifier that is not a function call, a keyword or an aggregation modifier is a metric name.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring",
                      "group_left", "group_right", "atan2"})
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?")
_NUMBER_SUFFIX = re.compile(r"(?<=\d)[smhdwy]\b")


def metric_names(expr: str) -> set[str]:
    """Metric names read by ``expr`` (Grafana's ``$variables`` are not names)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    text = _NUMBER_SUFFIX.sub("", text)
    return {name for name, call in _IDENT.findall(text) if not call and name.lower() not in KEYWORDS}
