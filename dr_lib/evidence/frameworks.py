"""The requirements auditors test a restore against, and which drill step supports which, as data.

Each reference is a row with its reason: what the step does that the requirement asks for.
Requirement texts are short paraphrases (the standards' own wording is theirs). Controls of the
host conformance suite are mapped in :mod:`dr_lib.evidence.control_frameworks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Requirement:
    id: str  # unique across frameworks, e.g. "ISO 27001 A.8.13"
    framework: str
    clause: str
    title: str
    asks: str  # what it asks for, paraphrased


@dataclass(frozen=True)
class Reference:
    requirement: str  # a key of REQUIREMENTS
    reason: str  # why the step (or control) supports it

    def to_json(self) -> dict[str, str]:
        item = REQUIREMENTS[self.requirement]
        return {"requirement": self.requirement, "framework": item.framework, "clause": item.clause,
                "title": item.title, "reason": self.reason}


ISO_A813 = "ISO 27001 A.8.13"
ISO_A530 = "ISO 27001 A.5.30"
SOC2_A12 = "SOC 2 A1.2"
SOC2_A13 = "SOC 2 A1.3"
NIST_CP4 = "NIST CP-4"
NIST_CP9 = "NIST CP-9"
NIST_CP10 = "NIST CP-10"

_ISO = "ISO/IEC 27001:2022 Annex A"
_SOC2 = "SOC 2 (AICPA Trust Services Criteria, Availability)"
_NIST = "NIST SP 800-53 Rev. 5"
REQUIREMENTS: Mapping[str, Requirement] = MappingProxyType({r.id: r for r in (
    Requirement(ISO_A813, _ISO, "A.8.13", "Information backup",
                "backup copies of information and systems are kept and regularly tested against the backup policy"),
    Requirement(ISO_A530, _ISO, "A.5.30", "ICT readiness for business continuity",
                "ICT readiness is planned, implemented, maintained and tested against the continuity objectives "
                "(recovery time and recovery point)"),
    Requirement(SOC2_A12, _SOC2, "A1.2", "Backup processes and recovery infrastructure",
                "data backup processes and recovery infrastructure are implemented, operated, maintained and "
                "monitored to meet the entity's objectives"),
    Requirement(SOC2_A13, _SOC2, "A1.3", "Recovery plan testing",
                "recovery plan procedures supporting system recovery are tested"),
    Requirement(NIST_CP4, _NIST, "CP-4", "Contingency plan testing",
                "the contingency plan is tested to determine its effectiveness and readiness; results are "
                "reviewed and corrective actions started"),
    Requirement(NIST_CP9, _NIST, "CP-9", "System backup",
                "backups are taken at a frequency consistent with the recovery objectives and protected; CP-9(1): "
                "backups are tested for reliability and integrity"),
    Requirement(NIST_CP10, _NIST, "CP-10", "System recovery and reconstitution",
                "the system can be recovered to a known state within the recovery time objective"),
)})

# Drill step (dr_lib.drill.timeline.STEP_NAMES) → the requirements it supports, with why.
DRILL_STEP_REFERENCES: Mapping[str, tuple[Reference, ...]] = MappingProxyType({
    "source": (
        Reference(NIST_CP4, "the test starts from a running, healthy application, so a restore has something real "
                            "to bring back"),
    ),
    "backup": (
        Reference(ISO_A813, "the backup is taken by the same `k3s-dr backup` the schedule runs"),
        Reference(NIST_CP9, "the archive must hold every object of the application, checked object by object"),
        Reference(SOC2_A12, "the operated backup process produces the copy the recovery uses"),
    ),
    "destroy": (
        Reference(NIST_CP4, "the test exercises a loss: the cluster (or the application's namespaces) is gone"),
        Reference(ISO_A530, "readiness is tested against a disruption, not assumed"),
    ),
    "restore": (
        Reference(ISO_A813, "the backup copy is restored: the test of the backup that A.8.13 asks for"),
        Reference(NIST_CP9, "CP-9(1): the archive's integrity (every sha256, tar safety) is verified before use"),
        Reference(NIST_CP10, "recovery with the documented tool into a cluster that lost the application"),
        Reference(SOC2_A13, "the recovery procedure itself (`k3s-dr restore --wait`) is what is tested"),
    ),
    "verify": (
        Reference(NIST_CP10, "reconstitution to a known state: every object equal to the backup and healthy"),
        Reference(NIST_CP9, "CP-9(1): reliability of the backup shown by what came back, not by the archive alone"),
        Reference(ISO_A813, "the restored copy is checked complete, object by object"),
    ),
    "judge": (
        Reference(ISO_A530, "measured RTO and RPO are judged against the continuity objectives in the config"),
        Reference(SOC2_A13, "the test says whether recovery met its objectives"),
        Reference(NIST_CP4, "results are recorded for review (this report), with failures and their reasons"),
    ),
})

# The boot drill (k3s-dr lab host drill): the datastore lost, the host rebooted, the auto-restore judged.
INCIDENT_REFERENCES: tuple[Reference, ...] = (
    Reference(NIST_CP10, "a real recovery by the documented runbook, every object checked back by `k3s-dr diff`"),
    Reference(ISO_A530, "the time from declaring the disaster to recovery is recorded against the RTO"),
    Reference(SOC2_A13, "the recovery procedure as operators follow it, with its evidence sealed"),
)
BOOT_DRILL_REFERENCES: tuple[Reference, ...] = (
    Reference(NIST_CP10, "the node recovers its datastore unattended at boot, from the snapshot the schedule keeps"),
    Reference(ISO_A530, "readiness of the automatic recovery is tested by real reboots"),
    Reference(SOC2_A13, "the auto-restore procedure is tested, including the boots where it must not restore"),
    Reference(NIST_CP4, "each boot's decision and timing is recorded for review"),
)


def drill_references() -> list[tuple[str, Reference]]:
    """(step, reference) rows in step order."""
    return [(step, ref) for step, refs in DRILL_STEP_REFERENCES.items() for ref in refs]


def requirement_ids(references: Iterable[Reference]) -> tuple[str, ...]:
    """The requirements the references name, in the order of :data:`REQUIREMENTS`."""
    named = {ref.requirement for ref in references}
    return tuple(key for key in REQUIREMENTS if key in named)
