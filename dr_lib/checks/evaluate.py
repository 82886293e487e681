"""Which verdict judges which control, and the whole catalogue judged at once (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from dr_lib.checks import verdicts_exporter as exporter
from dr_lib.checks import verdicts_files as files
from dr_lib.checks import verdicts_misc as misc
from dr_lib.checks import verdicts_offsite as offsite
from dr_lib.checks import verdicts_snapshot as snapshot
from dr_lib.checks import verdicts_units as units
from dr_lib.checks.controls import BY_ID
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding

Verdict = Callable[[HostFacts], Finding]

VERDICTS: Mapping[str, Verdict] = MappingProxyType({
    "DR-CONF-001": misc.config_valid,
    "DR-BKP-001": files.backup_dir_private,
    "DR-BKP-002": files.archives_within_retention,
    "DR-BKP-003": files.archives_private,
    "DR-BKP-004": files.backup_fresh,
    "DR-LINK-001": files.latest_link,
    "DR-LINK-002": files.snapshot_link_present,
    "DR-LINK-003": files.snapshot_link_verified,
    "DR-LINK-004": snapshot.snapshot_holds_user_objects,
    "DR-ARCH-001": files.archive_intact,
    "DR-ARCH-002": files.expected_kinds,
    "DR-ARCH-003": files.datastore_with_token,
    "DR-K3S-001": files.server_token,
    "DR-K3S-002": units.k3s_enabled,
    "DR-UNIT-001": units.units_reloaded,
    "DR-UNIT-002": units.exec_start_ok,
    "DR-TIMER-001": units.timer_scheduled,
    "DR-TIMER-002": units.last_backup_ok,
    "DR-RESTORE-001": units.auto_restore_enabled,
    "DR-RESTORE-002": units.auto_restore_condition,
    "DR-RESTORE-003": units.auto_restore_ordered,
    "DR-RESTORE-004": units.auto_restore_guarded,
    "DR-LOG-001": misc.log_recent,
    "DR-LOG-002": misc.logrotate_configured,
    "DR-METRICS-001": misc.metrics_fresh,
    "DR-METRICS-002": exporter.exporter_fresh,
    "DR-METRICS-003": exporter.exporter_service,
    "DR-OFFSITE-001": offsite.offsite_current,
    "DR-OFFSITE-002": offsite.offsite_encrypted,
    "DR-OFFSITE-003": offsite.offsite_retention,
    "DR-WAIVER-001": misc.waivers_valid,
})

if set(VERDICTS) != set(BY_ID):  # a control without a verdict (or the reverse) is a bug: fail at import
    raise RuntimeError(f"controls and verdicts differ: {sorted(set(VERDICTS) ^ set(BY_ID))}")


def evaluate(control_id: str, facts: HostFacts) -> Finding:
    return VERDICTS[control_id](facts)


def evaluate_all(facts: HostFacts) -> dict[str, Finding]:
    return {control_id: verdict(facts) for control_id, verdict in VERDICTS.items()}
