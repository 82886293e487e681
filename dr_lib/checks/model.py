"""Values of the conformance suite: controls (rules as data) and findings (results as values)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # a verdict judges HostFacts, whose modules import this one
    from dr_lib.checks.hostfacts import HostFacts


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


class Fact(StrEnum):
    """What a verdict reads of a host (``Control.reads``), named after the part of the gathering that
    collects it: :data:`FACT_SOURCES`. Every verdict also reads the host's configuration values
    (paths, unit names, thresholds): not listed."""

    CONFIG = "config"
    UNITS = "units"
    PATHS = "paths"
    ARCHIVES = "archives"
    CONTENTS = "contents"
    FILES = "files"
    LOG = "log"
    SCRAPE = "scrape"
    CLOCK = "clock"
    WAIVERS = "waivers"


# Where each fact comes from: gather.py reads the config file (step 1) and systemd (step 2), then
# sends the probe (probe.py) to the host's python3 (step 3).
FACT_SOURCES: Mapping[Fact, str] = MappingProxyType({
    Fact.CONFIG: "whether the config file exists and is valid: step 1, `cat` of the file (`gather.read_config`)",
    Fact.UNITS: "`systemctl show` of the units, `systemctl cat` of the auto-restore unit: step 2 "
                "(`gather.systemd_command`, parsed by `units.py`)",
    Fact.PATHS: "stat of the backup directory, the links, the token, the datastore, the units' programs and "
                "condition paths: the probe",
    Fact.ARCHIVES: "each archive's mode, size, age, sidecar and sha256; the newest verified one: the probe",
    Fact.CONTENTS: "the newest verified archive's manifest and members: the probe",
    Fact.FILES: "small files read whole (log rotation, metrics textfile, offsite push record): the probe",
    Fact.LOG: "the tail of the backup log: the probe",
    Fact.SCRAPE: "the exporter's answer on `metrics.listen`: the probe",
    Fact.CLOCK: "the host's clock and UTC offset: the probe",
    Fact.WAIVERS: "the waivers file (read by the probe), parsed against the control IDs (`waivers.py`)",
})


Verdict: TypeAlias = "Callable[[HostFacts], Finding]"


@dataclass(frozen=True)
class Control:
    """One conformance control: what is checked, why it matters, how to repair it, and the one
    function that judges it (``verdict``, with the facts it reads).

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
    verdict: Verdict = field(kw_only=True)
    reads: tuple[Fact, ...] = field(kw_only=True)

    @property
    def area(self) -> str:
        """What its verdict judges: the verdict's module in :mod:`dr_lib.checks.verdicts` (files, units …)."""
        return self.verdict.__module__.rpartition(".")[2]


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
