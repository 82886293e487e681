"""Which pods a config rule applies to: its namespace and an equality-based label selector (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selector_matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Equality-based label selectors (``a=b,c!=d,e``): enough for rules, parsed without I/O."""
    if not selector:
        return True
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = (s.strip() for s in term.split("!=", 1))
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def rule_matches(rule: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    return rule.get("namespace") == meta.get("namespace") and selector_matches(
        rule.get("selector"), meta.get("labels") or {})
