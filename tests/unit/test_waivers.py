"""Waivers: accepted risks with a justification and an expiry; expired or malformed ones fail."""

from __future__ import annotations

from datetime import date

from dr_lib.checks.controls import BY_ID
from dr_lib.checks.model import Outcome
from dr_lib.checks.waivers import parse_waivers, waiver_finding

TODAY = date(2027, 1, 15)


def parse(text: str | None):
    return parse_waivers(text, "/etc/k3s-dr/waivers.yaml", BY_ID, TODAY)


GOOD = """
waivers:
  - id: DR-METRICS-001
    justification: "no node_exporter on edge nodes yet; OPS-142"
    expires: 2027-03-31
    owner: ops@example.com
"""


def test_no_file_waives_nothing_and_passes() -> None:
    waivers = parse(None)
    assert waivers.active("DR-METRICS-001", TODAY) is None
    assert waiver_finding(waivers, TODAY).outcome is Outcome.PASS


def test_active_waiver_holds_through_its_expiry_day() -> None:
    waivers = parse(GOOD)
    assert waivers.problems == ()
    waiver = waivers.active("DR-METRICS-001", TODAY)
    assert waiver is not None and waiver.owner == "ops@example.com"
    assert waivers.active("DR-METRICS-001", date(2027, 3, 31)) is not None
    assert waivers.active("DR-METRICS-001", date(2027, 4, 1)) is None
    assert waivers.active("DR-LOG-001", TODAY) is None
    assert waiver_finding(waivers, TODAY).outcome is Outcome.PASS


def test_expired_waiver_fails_and_no_longer_waives() -> None:
    waivers = parse(GOOD.replace("2027-03-31", "2027-01-14"))
    assert waivers.active("DR-METRICS-001", TODAY) is None
    finding = waiver_finding(waivers, TODAY)
    assert finding.outcome is Outcome.FAIL
    assert "expired: DR-METRICS-001 expired 2027-01-14" in finding.problem


def test_malformed_entries_are_each_reported() -> None:
    text = """
waivers:
  - id: DR-NOPE-001
    justification: "because we said so, really"
    expires: 2027-02-01
  - id: DR-LOG-001
    justification: "meh"
    expires: soon
  - id: DR-WAIVER-001
    justification: "waive the waiver checker itself"
    expires: 2027-02-01
  - id: DR-LOG-002
    justification: "rotation handled by the platform team"
    expires: 2030-01-01
    colour: blue
  - just a string
"""
    waivers = parse(text)
    problems = " | ".join(waivers.problems)
    assert "'DR-NOPE-001' is not a known control" in problems
    assert "justification of 10+ characters" in problems
    assert "expires must be a date" in problems
    assert "DR-WAIVER-001 itself cannot be waived" in problems
    assert "more than 366 days ahead" in problems
    assert "unknown keys colour" in problems
    assert "expected a mapping" in problems
    assert waivers.waivers == ()
    assert waiver_finding(waivers, TODAY).outcome is Outcome.FAIL


def test_unparsable_file_fails() -> None:
    assert waiver_finding(parse("waivers: [\n"), TODAY).outcome is Outcome.FAIL
    assert waiver_finding(parse("- a\n- b\n"), TODAY).outcome is Outcome.FAIL
    assert waiver_finding(parse(""), TODAY).outcome is Outcome.PASS  # an empty file waives nothing
