"""Values of the conformance suite: controls (rules as data) and findings (results as values)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a failing control is for recovery. Ordered from worst."""

    CRITICAL = "critical"  # a restore would not happen or would not work
    HIGH = "high"  # recovery degraded: data older than promised, secrets exposed, no warning
    MEDIUM = "medium"  # a problem would go unnoticed longer than it should
    LOW = "low"  # hygiene: the host slowly drifts towards one of the above


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the thing judged does not exist on this host, or another control owns the cause


@dataclass(frozen=True)
class Control:
    """One conformance control: what is checked, why it matters, and how to repair it.

    ``remediation`` may name settings as ``{backup_dir}``, ``{auto_restore}`` …: see
    :func:`dr_lib.checks.controls.remediation`. ``fixable`` means ``k3s-dr fix`` repairs it.
    """

    id: str
    title: str
    severity: Severity
    why: str
    remediation: str
    fixable: bool
    covers: str = ""  # which seed check or problem this control generalizes


@dataclass(frozen=True)
class Finding:
    """The verdict of one control on one host: the outcome, what was seen, and what is wrong."""

    outcome: Outcome
    evidence: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.PASS


def passed(evidence: str) -> Finding:
    return Finding(Outcome.PASS, evidence)


def failed(problem: str, evidence: str) -> Finding:
    return Finding(Outcome.FAIL, evidence, problem)


def not_applicable(reason: str) -> Finding:
    return Finding(Outcome.NOT_APPLICABLE, reason)
