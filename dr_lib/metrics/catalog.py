"""Every metric k3s-dr exports, as data: name, type, help, labels and how its value follows
from the inputs (pure; ``now`` is passed in).

Names are ``<metrics.prefix><suffix>``; the first six are the seed's gauges, so the prefix
``insightlearn_dr_`` reproduces its names exactly. A metric whose value is unknown is left
out rather than invented (no systemd: no ``next_backup_seconds``; no restore yet: no restore
status). Timestamps of things that never happened are 0, so "older than" alerts fire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dr_lib import __version__
from dr_lib.metrics.backupdir import DirFacts
from dr_lib.metrics.records import DECISIONS, RESTORE_RESULTS, PushRecord, State
from dr_lib.metrics.systemd import SystemdFacts

GAUGE = "gauge"
COUNTER = "counter"
SOURCES = ("state", "backup_dir", "systemd")

Labels = tuple[str, ...]
Values = Iterable[tuple[Labels, float]]


@dataclass(frozen=True)
class Inputs:
    now: float
    state: State
    backups: DirFacts
    systemd: SystemdFacts | None  # None: this host does not run systemd
    rto_target_seconds: float
    rpo_target_seconds: float
    state_problem: str = ""
    offsite_targets: tuple[str, ...] = ()  # configured offsite targets (offsite.targets), sorted


@dataclass(frozen=True)
class MetricSpec:
    suffix: str
    kind: str
    help: str
    values: Callable[[Inputs], Values]
    labels: Labels = ()


def _one(value: float | None) -> Values:
    return [] if value is None else [((), float(value))]


def _flag(value: bool | None) -> Values:
    return [] if value is None else [((), 1.0 if value else 0.0)]


def last_success_at(i: Inputs) -> float | None:
    """The newest good backup: its archive in the directory, else the last successful run recorded."""
    if i.backups.latest is not None and i.backups.latest.created is not None:
        return i.backups.latest.created
    success = i.state.last_backup_success
    if success is not None:
        return success.at
    return 0.0 if i.backups.readable else None


def _age(i: Inputs) -> Values:
    at = last_success_at(i)
    return [] if not at else _one(max(0.0, i.now - at))


def _size(i: Inputs) -> Values:
    if i.backups.latest is not None:
        return _one(i.backups.latest.bytes)
    success = i.state.last_backup_success
    return _one(success.bytes if success is not None else None)


def _next_backup(i: Inputs) -> Values:
    if i.systemd is None or i.systemd.next_backup_at is None:
        return []
    return _one(max(0.0, i.systemd.next_backup_at - i.now))


def _next_backup_at(i: Inputs) -> Values:
    return [] if i.systemd is None or i.systemd.next_backup_at is None else _one(i.systemd.next_backup_at)


def _kinds(i: Inputs) -> Values:
    latest = i.backups.latest
    kinds = latest.kinds if latest is not None else (i.state.backup.kinds if i.state.backup else {})
    return [((kind,), float(count)) for kind, count in sorted(kinds.items())]


def _data_failures(i: Inputs) -> Values:
    return [] if i.backups.latest is None else _one(len(i.backups.latest.data_failures))


def _pod_failures(i: Inputs) -> Values:
    latest = i.backups.latest
    return [] if latest is None else [(pod, float(count)) for pod, count in sorted(latest.failed_pods().items())]


def _unit(field: str) -> Callable[[Inputs], Values]:
    def values(i: Inputs) -> Values:
        if i.systemd is None or i.systemd.problem:
            return []
        unit = i.systemd.auto_restore
        return _flag({"enabled": unit.enabled and not unit.masked, "condition": unit.conditions_hold,
                      "fire": unit.would_fire}[field])
    return values


def _restore_counts(i: Inputs) -> Values:
    if i.state.restore is None:
        return []
    return [((result,), float(i.state.restore.counts.get(result, 0))) for result in RESTORE_RESULTS]


def _push(value: Callable[[PushRecord], float | None], *, success: bool = False,
          never: float | None = None) -> Callable[[Inputs], Values]:
    """Per configured target, from its last push (or last successful push); ``never`` when there is none."""
    def values(i: Inputs) -> Values:
        records = i.state.last_push_success if success else i.state.pushes
        found = ((target, records.get(target)) for target in i.offsite_targets)
        pairs = ((target, never if record is None else value(record)) for target, record in found)
        return [((target,), float(v)) for target, v in pairs if v is not None]
    return values


def _errors(i: Inputs) -> Values:
    failing = {"state": bool(i.state_problem), "backup_dir": not i.backups.readable,
               "systemd": bool(i.systemd is not None and i.systemd.problem)}
    return [((source,), 1.0 if failing[source] else 0.0) for source in SOURCES]


METRICS: tuple[MetricSpec, ...] = (
    # The seed's six (same names with the prefix insightlearn_dr_).
    MetricSpec("backup_last_success_timestamp_seconds", GAUGE,
               "Creation time of the newest good backup (the archive the latest link points at); 0: none.",
               lambda i: _one(last_success_at(i))),
    MetricSpec("backup_size_bytes", GAUGE, "Size of the newest good backup archive.", _size),
    MetricSpec("backup_last_status", GAUGE, "Last backup run: 1 success (verified and promoted), 0 failed or "
               "not promoted.", lambda i: _flag(i.state.backup.succeeded if i.state.backup else None)),
    MetricSpec("backup_count", GAUGE, "Backup archives in the backup directory.",
               lambda i: _one(i.backups.count if i.backups.readable else None)),
    MetricSpec("backup_age_seconds", GAUGE, "Seconds since the newest good backup was taken (at collection time).",
               _age),
    MetricSpec("next_backup_seconds", GAUGE, "Seconds until the backup timer fires next (systemd hosts only).",
               _next_backup),
    # Backups, beyond the seed. The seed's relative next_backup_seconds freezes in a textfile; this does not.
    MetricSpec("next_backup_timestamp_seconds", GAUGE, "When the backup timer fires next (systemd hosts only).",
               _next_backup_at),
    MetricSpec("backup_last_run_timestamp_seconds", GAUGE, "End of the last backup run, whatever its result.",
               lambda i: _one(i.state.backup.at if i.state.backup else None)),
    MetricSpec("backup_duration_seconds", GAUGE, "Duration of the last backup run that wrote an archive.",
               lambda i: _one(i.state.backup.seconds if i.state.backup else None)),
    MetricSpec("backup_objects", GAUGE, "Objects per kind in the newest good backup.", _kinds, ("kind",)),
    MetricSpec("backup_verified", GAUGE, "1 when the newest good backup's sidecar sha256 matches the file now.",
               lambda i: _flag(i.backups.latest.verified if i.backups.latest else
                               (False if i.backups.readable else None))),
    MetricSpec("backup_archives_verified", GAUGE, "Archives whose verification sidecar matches the file now.",
               lambda i: _one(sum(a.verified for a in i.backups.archives) if i.backups.readable else None)),
    MetricSpec("backup_datastore_snapshot", GAUGE, "1 when the newest good backup holds a k3s datastore "
               "snapshot (with its token).", lambda i: _flag(i.backups.latest.datastore if i.backups.latest else None)),
    MetricSpec("backup_data_failures", GAUGE, "Application data (hook dumps, volume copies) the newest good backup "
               "lacks: failures recorded with on-error=continue; 0: it holds all of it.", _data_failures),
    MetricSpec("backup_data_pod_failures", GAUGE, "Per pod: the application data failures the newest good backup "
               "records for it (the manifest's data_failures).", _pod_failures, ("namespace", "pod")),
    MetricSpec("backup_archives_unreadable", GAUGE, "Archives in the backup directory whose manifest cannot "
               "be read (corrupt, truncated, not ours).",
               lambda i: _one(sum(not a.readable for a in i.backups.archives) if i.backups.readable else None)),
    # Restores and the auto-restore unit.
    MetricSpec("restore_last_timestamp_seconds", GAUGE, "End of the last restore (not dry runs); 0: never.",
               lambda i: _one(i.state.restore.at if i.state.restore else 0.0)),
    MetricSpec("restore_last_status", GAUGE, "Last restore: 1 complete, 0 partial or failed.",
               lambda i: _flag(i.state.restore.complete if i.state.restore else None)),
    MetricSpec("restore_last_duration_seconds", GAUGE, "Duration of the last restore (with --wait: until Ready).",
               lambda i: _one(i.state.restore.seconds if i.state.restore else None)),
    MetricSpec("restore_objects", GAUGE, "Objects of the last restore by result.", _restore_counts, ("result",)),
    MetricSpec("auto_restore_decisions", COUNTER, "Decisions of `k3s-dr restore --auto`, by decision (refused: "
               "the snapshot link's target was not an archive k3s-dr wrote and verified in backup.dir).",
               lambda i: [((d,), float(i.state.decisions.get(d, 0))) for d in DECISIONS], ("decision",)),
    MetricSpec("auto_restore_last_decision_timestamp_seconds", GAUGE, "When auto-restore last decided; 0: never.",
               lambda i: _one(i.state.decision.at if i.state.decision else 0.0)),
    MetricSpec("auto_restore_unit_enabled", GAUGE, "1 when the auto-restore unit is enabled and not masked.",
               _unit("enabled")),
    MetricSpec("auto_restore_condition_met", GAUGE, "1 when the auto-restore unit's ConditionPathExists= hold now.",
               _unit("condition")),
    MetricSpec("auto_restore_would_fire", GAUGE, "1 when the auto-restore unit would run at the next boot "
               "(enabled and its conditions met).", _unit("fire")),
    # Drills.
    MetricSpec("drill_last_timestamp_seconds", GAUGE, "End of the last restore drill; 0: never.",
               lambda i: _one(i.state.drill.at if i.state.drill else 0.0)),
    MetricSpec("drill_last_status", GAUGE, "Last drill: 1 pass, 0 fail.",
               lambda i: _flag(i.state.drill.passed if i.state.drill else None)),
    MetricSpec("drill_last_rto_seconds", GAUGE, "Recovery time measured by the last drill.",
               lambda i: _one(i.state.drill.rto_seconds if i.state.drill else None)),
    MetricSpec("drill_last_rpo_seconds", GAUGE, "Recovery point (data loss window) measured by the last drill.",
               lambda i: _one(i.state.drill.rpo_seconds if i.state.drill else None)),
    MetricSpec("drill_rto_target_seconds", GAUGE, "RTO target (config targets.rto).",
               lambda i: _one(i.rto_target_seconds)),
    MetricSpec("drill_rpo_target_seconds", GAUGE, "RPO target (config targets.rpo).",
               lambda i: _one(i.rpo_target_seconds)),
    # Offsite pushes, per configured target (`k3s-dr push` and the push after each backup).
    MetricSpec("offsite_push_last_timestamp_seconds", GAUGE, "End of the last push to the offsite target, "
               "whatever its result; 0: never.", _push(lambda r: r.at, never=0.0), ("target",)),
    MetricSpec("offsite_push_last_status", GAUGE, "Last push to the offsite target: 1 copied and verified "
               "(or already there), 0 failed.", _push(lambda r: 1.0 if r.ok else 0.0), ("target",)),
    MetricSpec("offsite_push_duration_seconds", GAUGE, "Duration of the last push to the offsite target "
               "(with remote retention).", _push(lambda r: r.seconds), ("target",)),
    MetricSpec("offsite_push_last_success_timestamp_seconds", GAUGE, "End of the last successful push to the "
               "offsite target; 0: never.", _push(lambda r: r.at, success=True, never=0.0), ("target",)),
    MetricSpec("offsite_push_bytes", GAUGE, "Bytes the last successful push uploaded (restic: new data; 0 when "
               "the copy was already there).", _push(lambda r: r.bytes_sent, success=True), ("target",)),
    MetricSpec("offsite_remote_copies", GAUGE, "Good (complete, verified) copies on the offsite target after "
               "the last successful push and its retention.", _push(lambda r: r.remote_copies, success=True),
               ("target",)),
    # The collection itself.
    MetricSpec("build_info", GAUGE, "Always 1; the version label says which k3s-dr computed these values.",
               lambda i: [((__version__,), 1.0)], ("version",)),
    MetricSpec("metrics_collected_timestamp_seconds", GAUGE, "When these values were computed.",
               lambda i: _one(i.now)),
    MetricSpec("collection_error", GAUGE, "1 when a source could not be read for this collection "
               "(state file, backup directory, systemd).", _errors, ("source",)),
)

SEED_SUFFIXES = tuple(spec.suffix for spec in METRICS[:6])

# Renamed at 0.x to follow Prometheus naming (the seed's six never change: its users' dashboards use them).
RENAMED: tuple[tuple[str, str, str], ...] = (
    ("backup_verified_count", "backup_archives_verified", "`_count` is reserved for histogram and summary series"),
    ("drill_last_verdict", "drill_last_status", "one word for the result of a last run, as backup_last_status"),
)


def names(prefix: str) -> list[str]:
    """Every metric name as exposed (counters with ``_total``), for tests and dashboards."""
    return [prefix + spec.suffix + ("_total" if spec.kind == COUNTER else "") for spec in METRICS]


def evaluate(inputs: Inputs) -> list[tuple[MetricSpec, list[tuple[Labels, float]]]]:
    return [(spec, list(spec.values(inputs))) for spec in METRICS]

