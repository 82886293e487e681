"""Inputs for the metric catalogue, built from plain values (no I/O): shared by the metrics unit tests."""

from __future__ import annotations

from dataclasses import replace

from dr_lib.metrics.backupdir import ArchiveFacts, DirFacts
from dr_lib.metrics.catalog import Inputs
from dr_lib.metrics.records import BackupRecord, DecisionRecord, DrillRecord, PushRecord, RestoreRecord, State
from dr_lib.metrics.systemd import SystemdFacts, UnitReadiness

NOW = 1_800_000_000.0
CREATED = NOW - 1800  # the newest archive is half an hour old

LATEST = ArchiveFacts("k3s-dr-20270115T073000Z.tar.gz", 111_616, CREATED, verified=True,
                      kinds={"configmaps": 12, "deployments.apps": 3}, datastore=True,
                      data_failures=("dump hook of pod shop/db-0 container 'db' failed: exit code 3 "
                                     "(on-error=continue: left out, backup partial)",))
OLDER = ArchiveFacts("k3s-dr-20270115T063000Z.tar.gz", 110_000, CREATED - 3600, verified=True,
                     kinds={"configmaps": 11})
HEALTHY_DIR = DirFacts("/var/backups/k3s-cluster", archives=(LATEST, OLDER), latest=LATEST, latest_link="ok", count=2)
READY_UNIT = UnitReadiness(loaded=True, enabled=True, masked=False, conditions_hold=True)


def full_state() -> State:
    """A host after a backup (pushed to offsite target lab; its push to home failed after an earlier success),
    an auto-restore that restored, and a passing drill."""
    backup = BackupRecord(at=CREATED + 40, status="success", seconds=4.2, archive=LATEST.name, objects=15,
                          kinds=dict(LATEST.kinds), bytes=LATEST.bytes, verified=True, datastore=True)
    restore = RestoreRecord(at=NOW - 600, complete=True, outcome="complete", seconds=12.5,
                            counts={"created": 14, "updated": 0, "unchanged": 1, "skipped": 0, "failed": 0},
                            archive=LATEST.name, auto=True)
    state = State().with_backup(backup).with_decision(DecisionRecord(NOW - 700, restore=False, reason="healthy"))
    state = state.with_decision(DecisionRecord(NOW - 610, restore=True, reason="objects lost")).with_restore(restore)
    drill = DrillRecord(at=NOW - 86400, passed=True, rto_seconds=38.5, rpo_seconds=12.0, rto_target_seconds=900,
                        rpo_target_seconds=3600, drill_id="abc123")
    state = state.with_drill(drill)
    pushed = PushRecord(at=CREATED + 60, ok=True, seconds=2.5, bytes_sent=111_800, stored_bytes=111_800,
                        remote_copies=5, archive=LATEST.name, trigger="backup")
    state = state.with_push("lab", pushed).with_push("home", replace(pushed, bytes_sent=2048))
    return state.with_push("home", PushRecord(at=NOW - 60, ok=False, seconds=0.4, archive=LATEST.name,
                                              error="offsite target 'home': the server could not be reached"))


def full_inputs(**changes: object) -> Inputs:
    inputs = Inputs(now=NOW, state=full_state(), backups=HEALTHY_DIR,
                    systemd=SystemdFacts(next_backup_at=NOW + 300, auto_restore=READY_UNIT),
                    rto_target_seconds=900.0, rpo_target_seconds=3600.0, offsite_targets=("home", "lab"))
    return replace(inputs, **changes)  # type: ignore[arg-type]
