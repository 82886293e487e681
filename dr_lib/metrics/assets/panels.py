"""The dashboard's panels, as data: title, queries, unit, thresholds, the text of a 1/0 value, and
when a panel is empty by design (pure; rendered with Grafana's SDK by :mod:`.dashboard`).

Every query is built from the prefix, so the dashboard reads what the exporter serves under any
``metrics.prefix``. Ages are ``time() - (<timestamp> > 0)``: a time that was never set is 0, and
unguarded it would show ~56 years; guarded the panel shows its ``no_value`` ("never").
"""

from __future__ import annotations

from dataclasses import dataclass

STAT = "stat"
TIMESERIES = "timeseries"
BARGAUGE = "bargauge"

# When a panel is empty by design (documented in docs/metrics.md, tested after the event).
ALWAYS = ""
NEEDS_SYSTEMD = "systemd runs on the host (the backup timer and the auto-restore unit)"
NEEDS_PUSH = "an offsite push (offsite.targets configured)"
NEEDS_DATA_FAILURE = "a backup promoted without some application data (a hook or volume copy failed, on-error=continue)"

GOOD_BAD = (("red", None), ("green", 1.0))
NEUTRAL = (("blue", None),)


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = "{{instance}}"


@dataclass(frozen=True)
class PanelSpec:
    title: str
    queries: tuple[Query, ...]
    width: int
    height: int = 4
    kind: str = STAT
    unit: str = "none"
    description: str = ""
    thresholds: tuple[tuple[str, float | None], ...] = NEUTRAL
    texts: tuple[str, str] | None = None  # what 1 and 0 mean
    no_value: str = ""
    empty_until: str = ALWAYS


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


class _Exprs:
    """Selectors and guarded ages for one prefix; ``$instance`` is the dashboard's host variable."""

    def __init__(self, prefix: str, job: str) -> None:
        self.prefix, self.job = prefix, job

    def m(self, name: str) -> str:
        return f'{self.prefix}{name}{{instance=~"$instance"}}'

    def since(self, name: str) -> str:
        return f"time() - ({self.m(name)} > 0)"

    def until(self, name: str) -> str:
        return f"({self.m(name)} > 0) - time()"

    def up(self) -> str:
        return f'up{{job="{self.job}", instance=~"$instance"}}'


def _one(expr: str, legend: str = "{{instance}}") -> tuple[Query, ...]:
    return (Query(expr, legend),)


def _backups(e: _Exprs) -> RowSpec:
    return RowSpec("Backups", (
        PanelSpec("Last good backup", _one(e.since("backup_last_success_timestamp_seconds")), 4, unit="s",
                  description="Age of the newest verified, promoted backup. RPO target 1 h; the alert fires at 2 h.",
                  thresholds=(("green", None), ("orange", 3600.0), ("red", 7200.0)), no_value="never"),
        PanelSpec("Last backup run", _one(e.m("backup_last_status")), 4, thresholds=GOOD_BAD, texts=("OK", "FAILED"),
                  description="1: the last `k3s-dr backup` was verified and promoted; 0: it failed or was not "
                              "promoted (shrink guard)."),
        PanelSpec("Verified archives", _one(e.m("backup_archives_verified")), 4, thresholds=GOOD_BAD,
                  description="Archives whose .verified.json sidecar matches their content now."),
        PanelSpec("Archives on disk", _one(e.m("backup_count")), 3),
        PanelSpec("Backup size", _one(e.m("backup_size_bytes")), 3, unit="bytes"),
        PanelSpec("Next backup in", _one(e.until("next_backup_timestamp_seconds")), 3, unit="s",
                  description="From the backup timer (systemd hosts only).", empty_until=NEEDS_SYSTEMD),
        PanelSpec("Datastore snapshot", _one(e.m("backup_datastore_snapshot")), 3, thresholds=GOOD_BAD,
                  texts=("YES", "NO"), description="The newest good backup holds the k3s datastore (SQLite or etcd "
                                                   "snapshot) and its token."),
        PanelSpec("Backup age and duration", (
            Query(e.m("backup_age_seconds"), "age {{instance}}"),
            Query(e.m("backup_duration_seconds"), "duration {{instance}}"),
        ), 12, 7, TIMESERIES, "s"),
        PanelSpec("Objects per kind (newest good backup)",
                  _one(f"sum by (kind) ({e.m('backup_objects')})", "{{kind}}"), 8, 7, BARGAUGE),
        PanelSpec("Unreadable archives", _one(e.m("backup_archives_unreadable")), 4, 7,
                  thresholds=(("green", None), ("red", 1.0)),
                  description="Archives whose manifest cannot be read: corrupt, truncated or foreign."),
        PanelSpec("Newest good backup verified", _one(e.m("backup_verified")), 6, thresholds=GOOD_BAD,
                  texts=("YES", "NO"),
                  description="The archive the latest link points at still matches its verification sidecar."),
        PanelSpec("Last backup attempt", _one(e.since("backup_last_run_timestamp_seconds")), 6, unit="s",
                  thresholds=(("green", None), ("orange", 3600.0), ("red", 7200.0)), no_value="never",
                  description="Since the last `k3s-dr backup` ended, whatever its result."),
        PanelSpec("Application data missing", _one(e.m("backup_data_failures")), 4,
                  thresholds=(("green", None), ("red", 1.0)),
                  description="Hook dumps and volume copies the newest good backup lacks (a failure with "
                              "on-error=continue: the backup was promoted without them). K3sDrBackupDataMissing."),
        PanelSpec("Pods lacking data in the newest backup",
                  _one(f"sum by (namespace, pod) ({e.m('backup_data_pod_failures')})", "{{namespace}}/{{pod}}"),
                  8, kind=BARGAUGE, thresholds=(("green", None), ("red", 1.0)), empty_until=NEEDS_DATA_FAILURE,
                  description="Per pod: the failures the newest good backup records for it (`k3s-dr backup --json`: "
                              "data.failures says why)."),
    ))


def _restores(e: _Exprs) -> RowSpec:
    decisions = e.m("auto_restore_decisions_total")
    return RowSpec("Restore and auto-restore", (
        PanelSpec("Auto-restore would fire", _one(e.m("auto_restore_would_fire")), 4, thresholds=GOOD_BAD,
                  texts=("YES", "NO"), empty_until=NEEDS_SYSTEMD,
                  description="The auto-restore unit is enabled and its ConditionPathExists= hold now: it would run "
                              "at the next boot. The seed's unit never could."),
        PanelSpec("Unit enabled", _one(e.m("auto_restore_unit_enabled")), 3, thresholds=GOOD_BAD, texts=("YES", "NO"),
                  empty_until=NEEDS_SYSTEMD),
        PanelSpec("Condition met", _one(e.m("auto_restore_condition_met")), 3, thresholds=GOOD_BAD,
                  texts=("YES", "NO"), empty_until=NEEDS_SYSTEMD),
        PanelSpec("Last restore", _one(e.m("restore_last_status")), 3, thresholds=GOOD_BAD,
                  texts=("COMPLETE", "PARTIAL/FAILED")),
        PanelSpec("Since last restore", _one(e.since("restore_last_timestamp_seconds")), 4, unit="s",
                  no_value="never"),
        PanelSpec("Restore duration", _one(e.m("restore_last_duration_seconds")), 3, unit="s"),
        PanelSpec("Auto-restore decisions (24 h)", _one(f"sum by (decision) (increase({decisions}[1d]))",
                                                        "{{decision}}"), 4),
        PanelSpec("Since last auto-restore decision", _one(e.since("auto_restore_last_decision_timestamp_seconds")),
                  6, unit="s", no_value="never",
                  description="The auto-restore unit decides at each boot (restore only when the cluster lost its "
                              "objects)."),
        PanelSpec("Auto-restore decisions (total)", _one(f"sum by (decision) ({decisions})", "{{decision}}"), 6),
        PanelSpec("Objects of the last restore by result",
                  _one(f"sum by (result) ({e.m('restore_objects')})", "{{result}}"), 24, 6, BARGAUGE),
    ))


def _drills(e: _Exprs) -> RowSpec:
    return RowSpec("Restore drills (RTO / RPO)", (
        PanelSpec("Last drill", _one(e.m("drill_last_status")), 4, thresholds=GOOD_BAD, texts=("PASS", "FAIL"),
                  description="The last `k3s-dr drill` on this host, or the CI drill recorded here with "
                              "`k3s-dr metrics record-drill`."),
        PanelSpec("Since last drill", _one(e.since("drill_last_timestamp_seconds")), 5, unit="s", no_value="never",
                  thresholds=(("green", None), ("orange", 2_592_000.0), ("red", 3_024_000.0)),
                  description="Drills are due monthly; the alert fires after 35 days."),
        PanelSpec("RTO (last drill)", _one(e.m("drill_last_rto_seconds")), 4, unit="s"),
        PanelSpec("RTO target", _one(e.m("drill_rto_target_seconds")), 3, unit="s"),
        PanelSpec("RPO (last drill)", _one(e.m("drill_last_rpo_seconds")), 5, unit="s"),
        PanelSpec("RPO target", _one(e.m("drill_rpo_target_seconds")), 3, unit="s"),
        PanelSpec("RTO and RPO against targets", (
            Query(e.m("drill_last_rto_seconds"), "RTO {{instance}}"), Query(e.m("drill_rto_target_seconds"),
                                                                            "RTO target"),
            Query(e.m("drill_last_rpo_seconds"), "RPO {{instance}}"), Query(e.m("drill_rpo_target_seconds"),
                                                                            "RPO target"),
        ), 24, 7, TIMESERIES, "s"),
    ))


def _offsite(e: _Exprs) -> RowSpec:
    per_target = "{{instance}} {{target}}"
    return RowSpec("Offsite copies", (
        PanelSpec("Last offsite push", _one(e.m("offsite_push_last_status"), per_target), 6, thresholds=GOOD_BAD,
                  texts=("OK", "FAILED"), empty_until=NEEDS_PUSH,
                  description="Per target: 1 the last push (`k3s-dr push` or the push after a backup) copied and "
                              "verified the archive, or found it there already; 0 it failed (the backup itself is "
                              "untouched: `k3s-dr push --json` says why)."),
        PanelSpec("Since last successful push", _one(e.since("offsite_push_last_success_timestamp_seconds"),
                                                     per_target), 6, unit="s", no_value="never",
                  thresholds=(("green", None), ("orange", 7200.0), ("red", 10800.0)), empty_until=NEEDS_PUSH,
                  description="Per target: time since a push last succeeded. The alert K3sDrOffsiteCopyTooOld fires "
                              "after 3 h."),
        PanelSpec("Good copies offsite", _one(e.m("offsite_remote_copies"), per_target), 6,
                  thresholds=(("red", None), ("blue", 1.0)), empty_until=NEEDS_PUSH,
                  description="Per target: complete, verified copies after the last successful push and its "
                              "retention."),
        PanelSpec("Last push attempt", _one(e.since("offsite_push_last_timestamp_seconds"), per_target), 6,
                  unit="s", no_value="never", thresholds=(("green", None), ("orange", 7200.0), ("red", 10800.0)),
                  empty_until=NEEDS_PUSH,
                  description="Per target: time since the last push ended, whatever its result."),
        PanelSpec("Push duration", _one(e.m("offsite_push_duration_seconds"), per_target), 12, 7, TIMESERIES, "s",
                  description="Per target: the last push, with remote retention.", empty_until=NEEDS_PUSH),
        PanelSpec("Bytes uploaded per push", _one(e.m("offsite_push_bytes"), per_target), 12, 7, TIMESERIES,
                  "bytes", empty_until=NEEDS_PUSH,
                  description="Per target: what the last successful push sent (restic: new data only; 0: already "
                              "there)."),
    ))


def _collection(e: _Exprs) -> RowSpec:
    return RowSpec("Metrics collection", (
        PanelSpec("Exporter scrape", _one(e.up()), 4, thresholds=GOOD_BAD, texts=("UP", "DOWN"),
                  description="Prometheus's own `up` for the exporter's scrape job: DOWN fires K3sDrExporterDown."),
        PanelSpec("Metrics freshness", _one(e.since("metrics_collected_timestamp_seconds")), 6, unit="s",
                  thresholds=(("green", None), ("red", 7200.0)), no_value="never",
                  description="The exporter computes at each scrape (near 0); the textfile is as old as the last run."),
        PanelSpec("Sources failing", _one(f"max by (source) ({e.m('collection_error')})", "{{source}}"), 10,
                  thresholds=(("green", None), ("red", 1.0)), texts=("FAILING", "OK"),
                  description="State file, backup directory or systemd: 1 when it could not be read at the last "
                              "collection."),
        PanelSpec("k3s-dr version", _one(e.m("build_info"), "{{instance}} {{version}}"), 4,
                  description="The k3s-dr that computed these values (label version)."),
    ))


def dashboard_rows(prefix: str, job: str) -> tuple[RowSpec, ...]:
    e = _Exprs(prefix, job)
    return (_backups(e), _restores(e), _drills(e), _offsite(e), _collection(e))


def instance_query(prefix: str) -> str:
    """The host variable: every instance whose collection arrives (the one series always emitted)."""
    return f"label_values({prefix}metrics_collected_timestamp_seconds, instance)"
