"""Which host conformance control supports which framework requirement, and why: data keyed by
control ID (the IDs of ``dr_lib.checks.controls``; a unit test keeps the keys real and every
control mapped). Shown in the check reports and the evidence index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from dr_lib.evidence.frameworks import (
    ISO_A530,
    ISO_A813,
    NIST_CP9,
    NIST_CP10,
    SOC2_A12,
    Reference,
)
from dr_lib.evidence.htmlparts import references_table

_R = Reference
_PROTECTED = "CP-9 asks that backup information be protected (confidentiality)"
_MONITORED = "A1.2 asks that backup processes be monitored"
_RECOVERY = "the automatic recovery at boot must be able to run"

CONTROL_REFERENCES: Mapping[str, tuple[Reference, ...]] = MappingProxyType({
    "DR-CONF-001": (_R(SOC2_A12, "backup and recovery run from this configuration: an invalid one stops both"),),
    "DR-BKP-001": (_R(NIST_CP9, _PROTECTED + ": the directory holds every Secret"),),
    "DR-BKP-002": (_R(ISO_A813, "backup copies are kept, as many as the retention policy says"),
                   _R(NIST_CP9, "backups exist at all: without one there is nothing to restore")),
    "DR-BKP-003": (_R(NIST_CP9, _PROTECTED + ": archives readable by their owner only"),),
    "DR-BKP-004": (_R(NIST_CP9, "backups are taken at a frequency consistent with the RPO"),
                   _R(ISO_A530, "the recovery point objective holds right now"),
                   _R(SOC2_A12, _MONITORED)),
    "DR-LINK-001": (_R(NIST_CP10, "operators restore 'the latest backup' through this link: it must name a "
                                  "verified archive"),),
    "DR-LINK-002": (_R(NIST_CP10, _RECOVERY + ": its unit starts only when the snapshot link exists"),),
    "DR-LINK-003": (_R(NIST_CP10, _RECOVERY + " from a verified archive"),
                    _R(NIST_CP9, "CP-9(1): integrity of the backup the recovery would use")),
    "DR-LINK-004": (_R(NIST_CP9, "CP-9: the backup auto-restore would use holds the users' information, not a wiped "
                              "cluster's"),
                    _R(ISO_A813, "a backup of a wiped cluster does not replace the last copy of the information")),
    "DR-TRUST-001": (_R(NIST_CP9, "CP-9(8) cryptographic protection: the backup the recovery would use is signed "
                                  "by a key the host trusts, so its integrity and origin are proven"),
                     _R(NIST_CP10, _RECOVERY + ": it refuses a snapshot not signed by a configured key")),
    "DR-ARCH-001": (_R(NIST_CP9, "CP-9(1): the newest archive is tested for integrity"),
                    _R(ISO_A813, "the backup copy is checked, not only kept")),
    "DR-ARCH-002": (_R(NIST_CP9, "the backup holds the kinds of information it must"),
                    _R(ISO_A813, "the backup's scope matches the policy")),
    "DR-ARCH-003": (_R(NIST_CP10, "the datastore snapshot can bring the server back only with its token"),
                    _R(NIST_CP9, "system-level information (the datastore and its key) is backed up")),
    "DR-DATA-001": (_R(NIST_CP9, "CP-9 asks that user-level information be backed up: the application data, not "
                                 "only the objects that describe it"),
                    _R(ISO_A813, "the backup copy holds all the information the policy says, or says what it lacks"),
                    _R(SOC2_A12, _MONITORED + ": a backup promoted without some data is seen")),
    "DR-K3S-001": (_R(NIST_CP9, _PROTECTED + ": the token decrypts the cluster's CA keys"),
                   _R(NIST_CP10, "no token, no datastore recovery")),
    "DR-K3S-002": (_R(NIST_CP10, _RECOVERY + ": there is no cluster to restore into without k3s"),),
    "DR-UNIT-001": (_R(SOC2_A12, "what runs is what is on disk: the operated process is the reviewed one"),),
    "DR-UNIT-002": (_R(SOC2_A12, "backup and recovery units run an existing program"),
                    _R(NIST_CP10, _RECOVERY)),
    "DR-TIMER-001": (_R(ISO_A813, "backups are taken regularly, by schedule"),
                     _R(NIST_CP9, "the schedule is consistent with the RPO"),
                     _R(SOC2_A12, "the backup process is operated")),
    "DR-TIMER-002": (_R(SOC2_A12, _MONITORED + ": the last run's result is looked at"),
                     _R(NIST_CP9, "a failing backup silently stretches the RPO")),
    "DR-RESTORE-001": (_R(NIST_CP10, _RECOVERY + ": its unit is enabled"),
                       _R(ISO_A530, "the automatic recovery the continuity plan relies on is in place")),
    "DR-RESTORE-002": (_R(NIST_CP10, _RECOVERY + ": nothing blocks its start condition"),),
    "DR-RESTORE-003": (_R(NIST_CP10, "recovery starts once the API server answers"),),
    "DR-RESTORE-004": (_R(NIST_CP10, "the recovery at boot runs the tested, guarded restore"),
                       _R(ISO_A530, "the recovery mechanism is the one the drills test")),
    "DR-LOG-001": (_R(SOC2_A12, _MONITORED + ": recent success and no errors in the log"),),
    "DR-LOG-002": (_R(SOC2_A12, "the log of the backup process is kept within bounds"),),
    "DR-METRICS-001": (_R(SOC2_A12, _MONITORED + ": the metrics alerts read are fresh"),),
    "DR-METRICS-002": (_R(SOC2_A12, _MONITORED + ": the exporter answers with fresh values"),),
    "DR-METRICS-003": (_R(SOC2_A12, _MONITORED + ": the exporter runs as a service"),),
    "DR-OFFSITE-001": (_R(ISO_A813, "backup copies exist away from the host they protect"),
                       _R(NIST_CP9, "backups survive the loss of the host"),
                       _R(SOC2_A12, "offsite copies are current and verified")),
    "DR-OFFSITE-002": (_R(NIST_CP9, _PROTECTED + ": offsite copies are encrypted"),),
    "DR-OFFSITE-003": (_R(ISO_A813, "offsite copies are kept as long as the retention policy says, no longer"),),
    "DR-WAIVER-001": (_R(SOC2_A12, "exceptions are approved and expire: accepted risks are re-approved"),),
})


def control_references(control_ids: Iterable[str]) -> list[tuple[str, Reference]]:
    """(control, reference) rows for the given controls, in catalogue order; unknown IDs have none."""
    wanted = set(control_ids)
    return [(control, ref) for control, refs in CONTROL_REFERENCES.items() if control in wanted for ref in refs]


def references_json(control_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The references of a check run's controls, for its results JSON."""
    return [{"control": control, **ref.to_json()} for control, ref in control_references(control_ids)]


def references_html(control_ids: Iterable[str]) -> str:
    """The same as a static table for the check run's HTML report ("" when no control ran)."""
    rows = control_references(control_ids)
    return ("<h3>Framework references</h3>" + references_table(rows, "control", "checks-frameworks")) if rows else ""
