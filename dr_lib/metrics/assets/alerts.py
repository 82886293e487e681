"""The Prometheus alert rules, as data: one row per alert with its expression, hold, severity, texts
and the reason it exists; rendered for a prefix and scrape job (pure).

Monitoring must not go quiet: besides what the metrics say (a stale backup, a failed drill…), rules
watch the metrics themselves — the exporter's scrape failing (``up == 0``), no k3s-dr series at
all (``absent``), and the backup's key series missing while the exporter answers. Each rule links
to its own section of docs/runbook.md (``runbook_url``: the section's anchor is the alert's name in
lower case).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dr_lib.metrics.assets.options import SHIPPED, AlertTuning, AssetOptions, human_duration, seconds_expr

CRITICAL = "critical"
WARNING = "warning"
GROUP = "k3s-dr"


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    hold: str  # Prometheus `for:`
    severity: str
    summary: str
    description: str
    why: str  # the reason the rule exists (not rendered: for the reader of this table)

    @property
    def anchor(self) -> str:
        return self.name.lower()


def alert_rules(options: AssetOptions, tuning: AlertTuning = SHIPPED) -> tuple[AlertRule, ...]:
    p, up = options.prefix, f'up{{job="{options.job}"}}'
    backup_age = seconds_expr(tuning.backup_max_age_seconds)
    drill_age, offsite_age = tuning.drill_max_age_seconds, tuning.offsite_max_age_seconds
    return (
        AlertRule(
            "K3sDrBackupTooOld", f"time() - {p}backup_last_success_timestamp_seconds > {backup_age}",
            tuning.hold_for("5m"), CRITICAL,
            "No good k3s backup for {{ $value | humanizeDuration }} on {{ $labels.instance }}",
            f"The newest verified, promoted backup is older than {human_duration(tuning.backup_max_age_seconds)} "
            "(RPO 1 h), or there is none. "
            "Check the backup timer (`systemctl status k3s-dr-backup.timer`) and the log /var/log/k3s-dr.log.",
            "the RPO is lost silently when backups stop; a never-set time (0) fires too"),
        AlertRule(
            "K3sDrBackupFailed", f"{p}backup_last_status == 0", tuning.hold_for("0m"), CRITICAL,
            "The last k3s backup on {{ $labels.instance }} failed or was not promoted",
            "`k3s-dr backup` failed, or wrote an archive it did not promote (shrink guard: the cluster lost "
            "many objects). Read the last lines of /var/log/k3s-dr.log.",
            "a failure is known at once; waiting for the age rule loses two hours"),
        AlertRule(
            "K3sDrBackupDataMissing", f"{p}backup_data_failures > 0", tuning.hold_for("0m"), WARNING,
            "The newest k3s backup on {{ $labels.instance }} lacks application data ({{ $value }} failure(s))",
            "A backup hook or volume copy failed with on-error=continue (the default of annotation hooks): the "
            f"backup was promoted without that data. {p}backup_data_pod_failures names the pods; "
            "`k3s-dr backup --json` (data.failures) says why; `k3s-dr check` fails DR-DATA-001 until a backup "
            "holds it all.",
            "a partial backup is promoted and its run counts as a success: nothing else says its data is missing"),
        AlertRule(
            "K3sDrNoVerifiedBackup", f"{p}backup_archives_verified == 0", tuning.hold_for("10m"), CRITICAL,
            "No verified backup archive on {{ $labels.instance }}",
            "No archive in the backup directory has a verification sidecar matching its content: a restore "
            "would have nothing trustworthy to start from. Run `k3s-dr verify` or a backup.",
            "archives can rot or be replaced after they were written"),
        AlertRule(
            "K3sDrAutoRestoreCannotFire", f"{p}auto_restore_would_fire == 0", tuning.hold_for("15m"), CRITICAL,
            "The auto-restore unit on {{ $labels.instance }} would not run at boot",
            "The auto-restore unit is disabled, masked, or its ConditionPathExists= does not hold (the seed's "
            "failure: the snapshot link never existed). Run `k3s-dr check` and `k3s-dr fix`.",
            "the seed's auto-restore never fired and nobody knew"),
        AlertRule(
            "K3sDrDrillFailed", f"{p}drill_last_status == 0", tuning.hold_for("0m"), WARNING,
            "The last restore drill failed on {{ $labels.instance }}",
            "Open the drill report (reports/<time>-<id>/report.html) to see the failed step.",
            "a restore that does not work is worse than none: it is trusted"),
        AlertRule(
            "K3sDrDrillTooOld",
            f"time() - {p}drill_last_timestamp_seconds > {seconds_expr(drill_age)}", tuning.hold_for("1h"), WARNING,
            f"No restore drill recorded for more than {human_duration(drill_age)} on {{{{ $labels.instance }}}}",
            "Restores must be proven monthly: run `k3s-dr drill`, or, where the drill runs in CI, record its "
            "evidence on this host: `k3s-dr metrics record-drill evidence.json`.",
            "restores are proven monthly; drills run in CI are recorded on the host, so this never fires forever"),
        AlertRule(
            "K3sDrRtoOverTarget", f"{p}drill_last_rto_seconds > {p}drill_rto_target_seconds", tuning.hold_for("0m"),
            WARNING, "The last drill's RTO ({{ $value | humanizeDuration }}) exceeds the target",
            "Recovery took longer than targets.rto; see the drill report's timeline per phase.",
            "a passing drill can still miss the promised recovery time"),
        AlertRule(
            "K3sDrCorruptArchive", f"{p}backup_archives_unreadable > 0", tuning.hold_for("5m"), WARNING,
            "{{ $value }} unreadable backup archive(s) on {{ $labels.instance }}",
            "An archive in the backup directory cannot be read; `k3s-dr list` and `k3s-dr verify` it.",
            "a corrupt archive may be the one a restore picks"),
        AlertRule(
            "K3sDrMetricsSourceError", f"{p}collection_error == 1", tuning.hold_for("10m"), WARNING,
            "k3s-dr cannot read its {{ $labels.source }} on {{ $labels.instance }}",
            "The metrics of that source are missing or stale; check permissions and paths in the config.",
            "an unreadable source leaves its metrics out, which would silence their alerts"),
        AlertRule(
            "K3sDrOffsitePushFailed", f"{p}offsite_push_last_status == 0", tuning.hold_for("0m"), WARNING,
            "The last offsite push to {{ $labels.target }} failed on {{ $labels.instance }}",
            "The backup is verified and kept locally, but its copy did not reach the offsite target. Run "
            "`k3s-dr push --target {{ $labels.target }} --json` to see why (credentials, bucket, server "
            "unreachable); the local archives are never touched by a failed push.",
            "a local backup dies with the host"),
        AlertRule(
            "K3sDrOffsiteCopyTooOld",
            f"time() - {p}offsite_push_last_success_timestamp_seconds > {seconds_expr(offsite_age)}",
            tuning.hold_for("5m"), CRITICAL,
            "No successful offsite push to {{ $labels.target }} for {{ $value | humanizeDuration }} on "
            "{{ $labels.instance }}",
            f"Backups are pushed after each hourly backup; for {human_duration(offsite_age)} none reached this "
            "target (or none ever did). "
            "If the host is lost now, more than the RPO is lost with it. Check `k3s-dr list --remote` and "
            "offsite.push_after_backup (pushing on another schedule? raise the threshold here).",
            "pushes can stop while every local backup succeeds"),
        AlertRule(
            "K3sDrExporterDown", f"{up} == 0", tuning.hold_for("2m"), CRITICAL,
            "The k3s-dr exporter on {{ $labels.instance }} does not answer Prometheus",
            f"Prometheus cannot scrape job {options.job!r}: every other k3s-dr alert for this host is blind. "
            "`systemctl status k3s-dr-exporter.service`, `journalctl -u k3s-dr-exporter.service`; "
            "`k3s-dr check` judges it (DR-METRICS-002, DR-METRICS-003).",
            "without it a dead exporter silences every alert"),
        AlertRule(
            "K3sDrMetricsAbsent", f"absent({p}metrics_collected_timestamp_seconds)", tuning.hold_for("10m"),
            CRITICAL, "No k3s-dr metrics reach Prometheus",
            f"No series {p}metrics_collected_timestamp_seconds at all: no scrape job for the exporter, no "
            "textfile collector, or another metrics.prefix than these rules were rendered for "
            "(`k3s-dr metrics render`).",
            "a missing scrape job or a wrong prefix leaves every rule without data, and none fires"),
        AlertRule(
            "K3sDrBackupMetricAbsent", f"{up} == 1 unless on (instance) {p}backup_last_success_timestamp_seconds",
            tuning.hold_for("10m"), CRITICAL,
            "The k3s-dr exporter on {{ $labels.instance }} answers without the backup's age",
            f"{p}backup_last_success_timestamp_seconds is missing: the backup directory cannot be read and no "
            "successful backup is recorded, so K3sDrBackupTooOld cannot fire. See K3sDrMetricsSourceError and "
            "`k3s-dr list`.",
            "the age rule needs its series; an absent one would keep it quiet"),
    )


def rule_document(rule: AlertRule, options: AssetOptions) -> dict[str, Any]:
    return {"alert": rule.name, "expr": rule.expr, "for": rule.hold, "labels": {"severity": rule.severity},
            "annotations": {"summary": rule.summary, "description": rule.description,
                            "runbook_url": options.runbook(rule.anchor)}}


def rules_document(options: AssetOptions, tuning: AlertTuning = SHIPPED) -> dict[str, Any]:
    """The rule file's content (Prometheus ``groups:``)."""
    return {"groups": [{"name": GROUP, "rules": [rule_document(r, options) for r in alert_rules(options, tuning)]}]}
