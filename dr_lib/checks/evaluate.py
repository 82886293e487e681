"""Judging a host against the control table (pure): each row's own verdict, and what the suite
concludes from it (a host with an invalid configuration, waivers, the remediation with the host's
own paths filled in)."""

from __future__ import annotations

from dataclasses import dataclass

from dr_lib.checks.controls import CONTROLS, control, placeholders, remediation
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Control, Finding, Outcome

CONFIG_CONTROL = "DR-CONF-001"


def evaluate(control_id: str, facts: HostFacts) -> Finding:
    return control(control_id).verdict(facts)


def evaluate_all(facts: HostFacts) -> dict[str, Finding]:
    return {item.id: item.verdict(facts) for item in CONTROLS}


@dataclass(frozen=True)
class Judgement:
    """One control on one host, as the suite reports it."""

    control: Control
    finding: Finding
    verdict: str  # pass | fail | waived | n/a
    remediation: str  # with the host's own paths and unit names
    waiver: str = ""  # the waiver that accepts a failure: until when, why, whose


def judge(item: Control, facts: HostFacts) -> Judgement:
    """The control's verdict on the host; a failure an unexpired waiver accepts is ``waived``.

    With an invalid configuration every path and unit name would be a guess: only DR-CONF-001 is
    judged, every other control fails pointing at it."""
    fix = remediation(item, placeholders(facts.layout.config, facts.layout.config_path))
    if facts.config_problem and item.id != CONFIG_CONTROL:
        finding = Finding(Outcome.FAIL, "not judged", f"the host's configuration is invalid: see {CONFIG_CONTROL}")
    else:
        finding = item.verdict(facts)
    if finding.outcome is Outcome.PASS:
        return Judgement(item, finding, "pass", fix)
    if finding.outcome is Outcome.NOT_APPLICABLE:
        return Judgement(item, finding, "n/a", fix)
    waiver = facts.waivers.active(item.id, facts.files.host_today)
    if waiver is None:
        return Judgement(item, finding, "fail", fix)
    text = f"until {waiver.expires}: {waiver.justification}" + (f" ({waiver.owner})" if waiver.owner else "")
    return Judgement(item, finding, "waived", fix, text)
