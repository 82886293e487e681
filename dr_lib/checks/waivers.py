"""Waivers: accepted risks, each for one control, with a justification and an expiry date.

File format (YAML, on the host under test, path from ``checks.waivers``)::

    waivers:
      - id: DR-METRICS-001
        justification: "no node_exporter on edge nodes yet; OPS-142"
        expires: 2026-03-31          # the last day the waiver holds
        owner: ops@example.com       # optional

A waived control that fails is reported as *waived*, not failed. An expired waiver stops
waiving and makes DR-WAIVER-001 fail, as does any malformed entry. Parsing never raises:
every problem is collected, so one bad entry cannot hide the others.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import yaml

from dr_lib.checks.model import Finding, failed, passed

WAIVER_CONTROL = "DR-WAIVER-001"
# A waiver is a decision to revisit; one longer than a year is a permanent exception in disguise.
MAX_WAIVER_DAYS = 366
MIN_JUSTIFICATION = 10


@dataclass(frozen=True)
class Waiver:
    control_id: str
    justification: str
    expires: date
    owner: str = ""

    def active_on(self, today: date) -> bool:
        return today <= self.expires


@dataclass(frozen=True)
class WaiverSet:
    waivers: tuple[Waiver, ...] = ()
    problems: tuple[str, ...] = ()
    source: str = ""
    present: bool = False

    def active(self, control_id: str, today: date) -> Waiver | None:
        for waiver in self.waivers:
            if waiver.control_id == control_id and waiver.active_on(today):
                return waiver
        return None

    def expired(self, today: date) -> tuple[Waiver, ...]:
        return tuple(w for w in self.waivers if not w.active_on(today))


def _entry(raw: Any, index: int, known: Collection[str], today: date) -> tuple[Waiver | None, list[str]]:
    where = f"entry {index + 1}"
    if not isinstance(raw, Mapping):
        return None, [f"{where}: expected a mapping with id, justification, expires; got {type(raw).__name__}"]
    problems: list[str] = []
    control_id = raw.get("id")
    if not isinstance(control_id, str) or control_id not in known:
        problems.append(f"{where}: id {control_id!r} is not a known control")
    elif control_id == WAIVER_CONTROL:
        problems.append(f"{where}: {WAIVER_CONTROL} itself cannot be waived")
    justification = raw.get("justification")
    if not isinstance(justification, str) or len(justification.strip()) < MIN_JUSTIFICATION:
        problems.append(f"{where} ({control_id}): a justification of {MIN_JUSTIFICATION}+ characters is required")
    expires = raw.get("expires")
    if not isinstance(expires, date):
        problems.append(f"{where} ({control_id}): expires must be a date (YYYY-MM-DD), got {expires!r}")
    elif expires > today + timedelta(days=MAX_WAIVER_DAYS):
        problems.append(f"{where} ({control_id}): expires {expires} is more than {MAX_WAIVER_DAYS} days ahead")
    unknown = sorted(set(raw) - {"id", "justification", "expires", "owner"})
    if unknown:
        problems.append(f"{where} ({control_id}): unknown keys {', '.join(map(str, unknown))}")
    if problems:
        return None, problems
    assert isinstance(expires, date) and isinstance(justification, str) and isinstance(control_id, str)
    return Waiver(control_id, justification.strip(), expires, str(raw.get("owner") or "")), []


def parse_waivers(text: str | None, source: str, known: Collection[str], today: date) -> WaiverSet:
    """Waivers from the file's text (None: no file, which is fine: nothing is waived)."""
    if text is None:
        return WaiverSet(source=source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return WaiverSet(problems=(f"not valid YAML: {str(exc).splitlines()[0]}",), source=source, present=True)
    if data is None:
        return WaiverSet(source=source, present=True)
    entries = data.get("waivers") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return WaiverSet(problems=("expected a top-level key 'waivers' holding a list",), source=source, present=True)
    waivers: list[Waiver] = []
    problems: list[str] = []
    for index, raw in enumerate(entries):
        waiver, found = _entry(raw, index, known, today)
        problems += found
        if waiver is not None:
            waivers.append(waiver)
    return WaiverSet(tuple(waivers), tuple(problems), source, present=True)


def waiver_finding(waivers: WaiverSet, today: date) -> Finding:
    """DR-WAIVER-001: every entry well formed and none expired."""
    if not waivers.present:
        return passed(f"no waivers file at {waivers.source}: nothing is waived")
    expired = [f"{w.control_id} expired {w.expires} ({w.justification})" for w in waivers.expired(today)]
    active = [f"{w.control_id} until {w.expires}" for w in waivers.waivers if w.active_on(today)]
    evidence = f"{waivers.source}: {len(waivers.waivers)} waiver(s); active: {', '.join(active) or 'none'}"
    if expired or waivers.problems:
        return failed("; ".join([*(f"expired: {e}" for e in expired), *waivers.problems]), evidence)
    return passed(evidence)
