"""The control catalogue: every conformance check declared once, as one row (ID, title, severity,
why, remediation, the verdict function that judges it and the facts that verdict reads).

Everything else is generated from this table: the suite (:mod:`dr_lib.hostcheck`, one test per
row, the ID as test id), ``k3s-dr fix``'s view of what fails, and ``docs/checks.md`` with its file
map (a unit test keeps the file equal to the rendering). Remediation texts name settings in
braces, filled from the host's own configuration by :func:`remediation`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from types import MappingProxyType

from dr_lib.checks.hostfacts import EXPORTER_UNIT
from dr_lib.checks.model import Control
from dr_lib.checks.model import Fact as F
from dr_lib.checks.model import Severity as S
from dr_lib.checks.pushstate import PUSH_STATE_NAME
from dr_lib.checks.verdicts import exporter, files, logs, offsite, settings, signatures, snapshot, textfile, units
from dr_lib.config import Config

CONTROLS: tuple[Control, ...] = (
    Control(
        "DR-CONF-001", "Configuration file is valid", S.CRITICAL,
        "The backup timer, auto-restore and every other check take their paths, unit names and thresholds "
        "from it; an invalid file leaves them all running on guesses.",
        "edit {config} (the message names the key, its value and what is accepted), then `k3s-dr install --dry-run`",
        fixable=False,
        verdict=settings.config_valid, reads=(F.CONFIG,),
    ),
    Control(
        "DR-BKP-001", "Backup directory is private", S.HIGH,
        "Archives hold every Secret of the cluster and the server token; a directory others can read lets "
        "any local user list and copy them.",
        "chmod 0700 {backup_dir}   (or `k3s-dr fix`)", fixable=True,
        verdict=files.backup_dir_private, reads=(F.PATHS,),
    ),
    Control(
        "DR-BKP-002", "Archives present, within retention", S.HIGH,
        "No archive means nothing to restore; more archives than retention allows means rotation is not "
        "running and the disk will fill.",
        "none: `systemctl start {backup_service}`; too many: `journalctl -u {backup_service}` (rotation)",
        fixable=False, covers="seed test 1 (backup files)",
        verdict=files.archives_within_retention, reads=(F.ARCHIVES,),
    ),
    Control(
        "DR-BKP-003", "Archives readable only by their owner", S.HIGH,
        "Archives hold every Secret of the cluster and the server token in clear text.",
        "chmod 0600 {backup_dir}/{archive_glob}   (or `k3s-dr fix`)", fixable=True,
        verdict=files.archives_private, reads=(F.ARCHIVES,),
    ),
    Control(
        "DR-BKP-004", "Newest verified backup is within the RPO", S.CRITICAL,
        "The RPO is the most recent work you accept to lose; restoring an older backup loses more than that.",
        "`systemctl start {backup_service}`, then find why the timer did not run: `journalctl -u {backup_service}`",
        fixable=False, covers="seed checklist (backup < 1 h)",
        verdict=files.backup_fresh, reads=(F.ARCHIVES, F.CLOCK),
    ),
    Control(
        "DR-LINK-001", "Latest link points at a verified archive", S.HIGH,
        "Operators and tools restore 'the latest backup' through this link; a missing or stale link sends "
        "them to nothing or to an archive nobody verified.",
        "k3s-dr fix   (re-points it at the newest verified archive holding user objects)", fixable=True,
        covers="seed test 2",
        verdict=files.latest_link, reads=(F.PATHS, F.ARCHIVES, F.CLOCK),
    ),
    Control(
        "DR-LINK-002", "Snapshot link exists", S.CRITICAL,
        "The auto-restore unit only starts when this path exists (ConditionPathExists); without it restore "
        "can never fire at boot — the seed's problem 1.",
        "k3s-dr fix   (creates it on the newest verified archive holding user objects)", fixable=True,
        covers="seed test 3, problem 1",
        verdict=files.snapshot_link_present, reads=(F.PATHS,),
    ),
    Control(
        "DR-LINK-003", "Snapshot link points at a verified archive", S.CRITICAL,
        "Auto-restore runs as root at boot and accepts only an archive k3s-dr wrote and verified in the backup "
        "directory (links resolved, a regular file named like its archives, a verification record for exactly "
        "that file); anything else — a link planted elsewhere, an unverified, changed or corrupt archive — is "
        "refused at the worst moment, and a restore of it would have been a restore of whatever was planted.",
        "k3s-dr fix   (re-points it at the newest verified archive holding user objects)", fixable=True,
        verdict=files.snapshot_link_verified, reads=(F.PATHS, F.ARCHIVES, F.CLOCK),
    ),
    Control(
        "DR-LINK-004", "Snapshot holds user objects when older archives do", S.CRITICAL,
        "A backup of a wiped cluster is a valid archive; promoted, it makes auto-restore decide at boot that "
        "there is nothing to restore, and the next rotations take the last archive that could — the seed's "
        "failure. The verification records say how many user objects each archive holds.",
        "if the cluster lost them: `k3s-dr list` (column USER), then `k3s-dr restore {backup_dir}/<newest archive "
        "with user objects>` and `systemctl start {backup_service}`; if they were deleted on purpose, delete the "
        "older archives that still hold them (or waive this control)",
        fixable=False, covers="seed report (restore of an empty backup)",
        verdict=snapshot.snapshot_holds_user_objects, reads=(F.PATHS, F.ARCHIVES),
    ),
    Control(
        "DR-TRUST-001", "Snapshot archive is signed by a configured key", S.CRITICAL,
        "With verify keys configured, auto-restore, restore and pull refuse an archive that is unsigned or not "
        "signed by one of them — the signature is what tells an archive k3s-dr wrote from one whoever could write "
        "the backup directory or the bucket put there. An unsigned snapshot is refused at the worst moment.",
        "`k3s-dr verify {backup_dir}/<archive>` (records its signature); unsigned: check trust.signing_key in {config} "
        "and `systemctl start {backup_service}`; a key no longer configured: add its verify key to trust.verify_keys",
        fixable=False,
        verdict=signatures.snapshot_signed, reads=(F.PATHS, F.ARCHIVES, F.FILES),
    ),
    Control(
        "DR-ARCH-001", "Newest verified archive is intact", S.CRITICAL,
        "Archives can rot or be altered after verification; restore refuses a damaged one, so you would "
        "only find out during the outage.",
        "k3s-dr verify <archive>; take a new backup: `systemctl start {backup_service}`",
        fixable=False, covers="seed test 4 (backup contents)",
        verdict=files.archive_intact, reads=(F.ARCHIVES, F.CONTENTS),
    ),
    Control(
        "DR-ARCH-002", "Archive holds the expected kinds", S.HIGH,
        "A narrowed scope (a wrong include/exclude, a kind the API stopped serving) silently leaves out "
        "what a restore can then never bring back.",
        "check the backup scope, then `systemctl start {backup_service}` and `k3s-dr list`",
        fixable=False, covers="seed test 4 (19 YAML files)",
        verdict=files.expected_kinds, reads=(F.CONTENTS,),
    ),
    Control(
        "DR-ARCH-003", "Datastore snapshot carries the server token", S.CRITICAL,
        "k3s encrypts its CA keys inside the datastore with the server token: a datastore snapshot without "
        "it cannot bring the server back.",
        "make sure {token} is readable by k3s-dr, then `systemctl start {backup_service}`", fixable=False,
        verdict=files.datastore_with_token, reads=(F.PATHS, F.CONTENTS),
    ),
    Control(
        "DR-DATA-001", "Newest backup holds all application data", S.HIGH,
        "A hook or volume copy that fails with on-error=continue (the default of hooks declared in pod "
        "annotations) leaves that pod's data out of a backup that is still promoted: restored, the workload "
        "comes back with empty databases.",
        "`k3s-dr backup --json` names each failure and why (data.failures); fix the hook or its pod, then "
        "`systemctl start {backup_service}`", fixable=False,
        verdict=files.application_data_complete, reads=(F.CONTENTS,),
    ),
    Control(
        "DR-K3S-001", "Server token present and private", S.CRITICAL,
        "Every datastore backup must copy it; whoever reads it can decrypt the cluster's CA keys.",
        "restore it from an archive (`tar -xzf <archive> datastore/token`) to {token}, mode 0600",
        fixable=False,
        verdict=files.server_token, reads=(F.PATHS,),
    ),
    Control(
        "DR-K3S-002", "k3s starts at boot", S.HIGH,
        "Auto-restore runs after k3s at boot; if k3s does not start, there is no cluster to restore into.",
        "systemctl enable {k3s}", fixable=False,
        verdict=units.k3s_enabled, reads=(F.UNITS,),
    ),
    Control(
        "DR-UNIT-001", "systemd runs the unit files on disk", S.HIGH,
        "Unit files changed without `systemctl daemon-reload` keep running their old definition until the "
        "next boot, so what you read on disk is not what runs.",
        "systemctl daemon-reload   (or `k3s-dr fix`)", fixable=True,
        verdict=units.units_reloaded, reads=(F.UNITS,),
    ),
    Control(
        "DR-UNIT-002", "Units run an existing, executable program", S.CRITICAL,
        "A unit whose ExecStart names a missing or non-executable file fails every time it starts.",
        "k3s-dr fix   (re-renders the unit), or reinstall k3s-dr", fixable=True,
        covers="seed tests 5 and 6 (scripts present)",
        verdict=units.exec_start_ok, reads=(F.UNITS, F.PATHS),
    ),
    Control(
        "DR-TIMER-001", "Backup timer enabled and scheduled within the RPO", S.CRITICAL,
        "Without an active timer no backup is taken and every other backup check slowly turns red.",
        "systemctl enable --now {backup_timer}   (or `k3s-dr fix`)", fixable=True,
        verdict=units.timer_scheduled, reads=(F.UNITS,),
    ),
    Control(
        "DR-TIMER-002", "Last backup run succeeded", S.HIGH,
        "A failing backup keeps the old archive in place: the RPO is silently exceeded.",
        "journalctl -u {backup_service} -n 50; fix the cause; systemctl start {backup_service}", fixable=False,
        verdict=units.last_backup_ok, reads=(F.UNITS, F.FILES),
    ),
    Control(
        "DR-RESTORE-001", "Auto-restore unit enabled (not disabled, not masked)", S.CRITICAL,
        "A disabled or masked unit never runs at boot — the seed's problem 2.",
        "systemctl unmask {auto_restore}; systemctl enable {auto_restore}   (or `k3s-dr fix`)",
        fixable=True, covers="seed test 7, problem 2",
        verdict=units.auto_restore_enabled, reads=(F.UNITS,),
    ),
    Control(
        "DR-RESTORE-002", "Auto-restore waits for the snapshot link and nothing else blocks it", S.CRITICAL,
        "Its ConditionPathExists must name the link backups maintain; any other unmet condition makes "
        "ConditionResult=no and the unit silently skips.",
        "k3s-dr fix   (re-renders the unit from the config)", fixable=True, covers="seed checklist (ConditionResult)",
        verdict=units.auto_restore_condition, reads=(F.UNITS, F.PATHS),
    ),
    Control(
        "DR-RESTORE-003", "Auto-restore is ordered after k3s", S.HIGH,
        "Started before the API server answers, a restore fails; After= and Wants= on k3s make it wait.",
        "k3s-dr fix   (re-renders the unit from the config)", fixable=True,
        verdict=units.auto_restore_ordered, reads=(F.UNITS,),
    ),
    Control(
        "DR-RESTORE-004", "Auto-restore runs k3s-dr's guarded restore", S.HIGH,
        "The seed's unit ran an untested script that skipped the restore whenever more than 5 Deployments "
        "existed and refused a second restore the same day (its problem 3); `k3s-dr restore --auto` decides "
        "by comparing the live cluster with the snapshot, and that decision is tested.",
        "k3s-dr fix   (re-renders the unit to run `k3s-dr restore --auto`)", fixable=True,
        covers="seed problem 3",
        verdict=units.auto_restore_guarded, reads=(F.UNITS,),
    ),
    Control(
        "DR-LOG-001", "Log shows a recent success and no errors", S.MEDIUM,
        "Errors in the log are early warnings of a failing backup or restore; no success line within the "
        "RPO means backups stopped reporting.",
        "read {log_file}; fix the cause; `systemctl start {backup_service}`", fixable=False, covers="seed test 8",
        verdict=logs.log_recent, reads=(F.LOG, F.CLOCK),
    ),
    Control(
        "DR-LOG-002", "Log rotation configured", S.LOW,
        "An unrotated log fills the disk that also holds the backups.",
        "k3s-dr fix   (writes /etc/logrotate.d/k3s-dr)", fixable=True,
        verdict=logs.logrotate_configured, reads=(F.FILES,),
    ),
    Control(
        "DR-METRICS-001", "Backup metrics are fresh", S.MEDIUM,
        "Alerts and dashboards read these metrics; stale values hide a failing backup.",
        "check the metrics textfile {textfile} is written after each backup", fixable=False,
        covers="seed checklist (metrics updated)",
        verdict=textfile.metrics_fresh, reads=(F.FILES, F.CLOCK),
    ),
    Control(
        "DR-METRICS-002", "Metrics exporter answers with fresh values", S.MEDIUM,
        "The seed's exporter on :9101 fed the dashboard; an exporter that is down, serves stale values or "
        "cannot read its sources makes every alert and panel lie.",
        f"`systemctl enable --now {EXPORTER_UNIT}` (`k3s-dr install` writes it when units.exporter is true); it "
        f"reads {{config}} when it starts: after changing metrics.listen or a path, `systemctl restart {EXPORTER_UNIT}`"
        f"; why it fails: `journalctl -u {EXPORTER_UNIT}`",
        fixable=False, covers="seed report (metrics endpoint :9101)",
        verdict=exporter.exporter_fresh, reads=(F.SCRAPE, F.UNITS, F.ARCHIVES, F.CLOCK),
    ),
    Control(
        "DR-METRICS-003", "Metrics exporter service enabled and running", S.MEDIUM,
        "Prometheus scrapes the exporter every few seconds and the dashboard and every alert depend on it; a "
        "stopped, disabled or masked service leaves them without data, and an exporter started by hand is "
        "gone after the next boot.",
        f"systemctl unmask {EXPORTER_UNIT}; systemctl enable --now {EXPORTER_UNIT}   (or `k3s-dr fix`); "
        "another exporter serves these metrics: units.exporter: false in {config}",
        fixable=True,
        verdict=exporter.exporter_service, reads=(F.UNITS, F.PATHS),
    ),
    Control(
        "DR-OFFSITE-001", "Offsite copies are current and verified", S.HIGH,
        "A backup on the cluster's disk dies with it; only a copy on another machine survives the loss of "
        "the host. A push that fails, or stops being run, leaves the offsite copy behind the backups while "
        "nothing looks wrong locally.",
        "`k3s-dr push` (its message and exit code say why it fails), then `k3s-dr list --remote`; automatic "
        "pushes: offsite.push_after_backup in {config}; the last push per target: {push_state}",
        fixable=False, covers="seed long-term plan (offsite backup, S3)",
        verdict=offsite.offsite_current, reads=(F.FILES, F.ARCHIVES, F.CLOCK),
    ),
    Control(
        "DR-OFFSITE-002", "Offsite copies are encrypted where required", S.HIGH,
        "Archives hold every Secret of the cluster and the server token; a copy in clear text in a bucket "
        "can be read by whoever reaches the bucket, not only by who holds the age identity.",
        "set offsite.recipients (age public keys) in {config}; the next backup is pushed encrypted "
        "(`systemctl start {backup_service}`); older clear copies leave with retention (`k3s-dr list --remote`)",
        fixable=False,
        verdict=offsite.offsite_encrypted, reads=(F.FILES,),
    ),
    Control(
        "DR-OFFSITE-003", "Remote retention holds as configured", S.MEDIUM,
        "Copies beyond the retention rules cost storage and keep old Secrets readable longer than the "
        "policy allows; a retention that fails silently grows the bucket until something breaks.",
        "`k3s-dr push` (applies the target's keep, keep_daily, keep_weekly from {config}); if retention "
        "fails, `k3s-dr push --json` shows why (targets[].warnings)",
        fixable=False,
        verdict=offsite.offsite_retention, reads=(F.FILES,),
    ),
    Control(
        "DR-WAIVER-001", "Waivers are valid and unexpired", S.HIGH,
        "A waiver accepts a known risk for a limited time; an expired or malformed one hides a problem "
        "nobody re-approved.",
        "edit {waivers}: renew (new expiry, justification) or remove the entry", fixable=False,
        verdict=settings.waivers_valid, reads=(F.WAIVERS, F.CLOCK),
    ),
)

BY_ID: Mapping[str, Control] = MappingProxyType({c.id: c for c in CONTROLS})


def control(control_id: str) -> Control:
    try:
        return BY_ID[control_id]
    except KeyError:
        raise KeyError(f"unknown control {control_id!r}; known: {', '.join(BY_ID)}") from None


def placeholders(config: Config, config_path: str) -> dict[str, str]:
    """The values remediation texts name, from the configuration of the host under test."""
    return {
        "config": config_path,
        "backup_dir": config.backup.dir,
        "archive_glob": config.checks.archive_glob,
        "backup_service": config.units.backup,
        "backup_timer": config.units.backup_timer,
        "auto_restore": config.units.auto_restore,
        "k3s": config.units.k3s,
        "log_file": config.backup.log_file,
        "waivers": config.checks.waivers,
        "token": f"{config.backup.k3s_data_dir}/server/token",
        "textfile": config.metrics.textfile,
        "push_state": posixpath.join(config.restore.state_dir, PUSH_STATE_NAME),
    }


def remediation(item: Control, values: Mapping[str, str] | None) -> str:
    """The control's remediation with the host's own paths and unit names filled in."""
    if values is None:
        return item.remediation
    return item.remediation.format_map(_Defaulting(values))


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
