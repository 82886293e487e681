"""Verdicts on the systemd units: k3s, the backup service and timer, the auto-restore unit (pure)."""

from __future__ import annotations

import time

from dr_lib.checks.hostfacts import EXPORTER_UNIT, HostFacts
from dr_lib.checks.model import Finding, failed, not_applicable, passed
from dr_lib.checks.units import PathCondition, UnitFacts
from dr_lib.checks.verdicts.files import age
from dr_lib.checks.verdicts.offsite import PARTIAL_EXIT, push_failed_in_run
from dr_lib.config import duration_seconds


def _when(moment: float | None) -> str:
    if moment is None:
        return "never"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _state(unit: UnitFacts) -> str:
    return (f"{unit.name}: load={unit.load_state or '?'} file={unit.unit_file_state or '?'} "
            f"active={unit.active_state}/{unit.sub_state}")


def _unit(facts: HostFacts, name: str) -> UnitFacts | None:
    return facts.unit(name)


def k3s_enabled(facts: HostFacts) -> Finding:
    name = facts.layout.config.units.k3s
    unit = _unit(facts, name)
    if unit is None or not unit.loaded:
        if not facts.files.stat(facts.layout.server_dir).exists:
            return not_applicable(f"no k3s server here ({name} not installed, {facts.layout.server_dir} absent)")
        return failed(f"{name} is not installed or not loadable", _state(unit) if unit else f"{name}: unknown")
    if unit.unit_file_state != "enabled":
        return failed(f"{name} is {unit.unit_file_state}, so it does not start at boot", _state(unit))
    return passed(_state(unit))


def _ours(facts: HostFacts) -> tuple[str, ...]:
    """The units ``k3s-dr install`` writes on this host, as its configuration says."""
    units = facts.layout.config.units
    return (units.backup, units.backup_timer, units.auto_restore, *((EXPORTER_UNIT,) if units.exporter else ()))


def units_reloaded(facts: HostFacts) -> Finding:
    seen = [u for u in (_unit(facts, n) for n in _ours(facts)) if u]
    stale = [u.name for u in seen if u.loaded and u.need_daemon_reload]
    evidence = ", ".join(f"{u.name} NeedDaemonReload={'yes' if u.need_daemon_reload else 'no'}" for u in seen)
    if stale:
        return failed(f"changed on disk since systemd loaded them: {', '.join(stale)}", evidence)
    return passed(evidence)


def exec_start_ok(facts: HostFacts) -> Finding:
    units = facts.layout.config.units
    problems: list[str] = []
    shown: list[str] = []
    for name in (units.backup, units.auto_restore, *((EXPORTER_UNIT,) if units.exporter else ())):
        unit = _unit(facts, name)
        if unit is None or not unit.loaded:
            if name == units.backup:  # the others' absence belongs to DR-RESTORE-001 and DR-METRICS-003
                problems.append(f"{name} is not installed")
            continue
        if not unit.exec_paths:
            problems.append(f"{name} has no ExecStart")
        for path in unit.exec_paths:
            st = facts.files.stat(path)
            shown.append(f"{name}: {path} " + ("executable" if st.executable else st.kind))
            if not st.exists:
                problems.append(f"{name} runs {path}, which does not exist")
            elif not st.executable:
                problems.append(f"{name} runs {path}, which is not an executable file")
    evidence = "; ".join(shown) or "no unit to judge"
    return failed("; ".join(problems), evidence) if problems else passed(evidence)


def timer_scheduled(facts: HostFacts) -> Finding:
    name = facts.layout.config.units.backup_timer
    unit = _unit(facts, name)
    rpo = facts.layout.rpo_seconds
    configured = duration_seconds(facts.layout.config.backup.interval)
    if unit is None or (not unit.loaded and not unit.masked):
        return failed(f"{name} is not installed: no backup is ever triggered", _state(unit) if unit else name)
    evidence = _state(unit)
    if unit.masked:
        return failed(f"{name} is masked: no backup is ever triggered", evidence)
    if unit.unit_file_state != "enabled":
        return failed(f"{name} is {unit.unit_file_state}: it will not run after the next boot", evidence)
    if unit.active_state != "active":
        return failed(f"{name} is {unit.active_state}: it triggers nothing until started", evidence)
    intervals = [seconds for kind, seconds in unit.timer_intervals if kind in ("OnUnitActive", "OnUnitInactive")]
    evidence += f"; every {age(intervals[0]) if intervals else '?'} (backup.interval {age(configured)}), RPO {age(rpo)}"
    evidence += f"; last trigger {_when(unit.last_trigger)}"
    too_slow = [s for s in [configured, *intervals] if s > rpo]
    if too_slow:
        return failed(f"backups every {age(max(too_slow))} cannot meet the RPO of {age(rpo)}", evidence)
    return passed(evidence)


def last_backup_ok(facts: HostFacts) -> Finding:
    name = facts.layout.config.units.backup
    unit = _unit(facts, name)
    if unit is None or not unit.loaded:
        return not_applicable(f"{name} is not installed: see DR-UNIT-002")
    evidence = (f"{name}: last start {_when(unit.exec_main_start)}, Result={unit.result}, "
                f"exit status {unit.exec_main_status}")
    if unit.exec_main_start is None and unit.result == "success":
        return passed(f"{name}: not run by systemd yet (Result={unit.result})")
    if unit.result != "success" or unit.exec_main_status not in (0, None):
        if unit.exec_main_status == PARTIAL_EXIT and push_failed_in_run(facts, unit.exec_main_start):
            return not_applicable(f"{evidence}: the backup itself succeeded and was promoted; its offsite push "
                                  "failed: see DR-OFFSITE-001")
        return failed(f"the last backup run failed (Result={unit.result}, exit status {unit.exec_main_status})",
                      evidence)
    return passed(evidence)


def auto_restore_enabled(facts: HostFacts) -> Finding:
    name = facts.layout.config.units.auto_restore
    unit = _unit(facts, name)
    if unit is None:
        return failed(f"{name} is not installed", name)
    if unit.masked:
        return failed(f"{name} is masked: it can never start", _state(unit))
    if not unit.loaded:
        return failed(f"{name} is not installed ({unit.load_state})", _state(unit))
    if unit.unit_file_state != "enabled":
        return failed(f"{name} is {unit.unit_file_state}: it does not run at boot", _state(unit))
    return passed(_state(unit))


def _holds(facts: HostFacts, condition: PathCondition) -> bool:
    return facts.files.stat(condition.path).exists != condition.negated


def _condition_text(condition: PathCondition) -> str:
    prefix = ("|" if condition.triggering else "") + ("!" if condition.negated else "")
    return f"ConditionPathExists={prefix}{condition.path}"


def auto_restore_condition(facts: HostFacts) -> Finding:
    """The unit must wait for the snapshot link, and nothing else may block it.

    Whether the link exists is DR-LINK-002's verdict: here it counts as holding, so each
    cause is reported by exactly one control.
    """
    unit = _unit(facts, facts.layout.config.units.auto_restore)
    if unit is None or not unit.loaded:
        return not_applicable("the auto-restore unit is not loaded: see DR-RESTORE-001")
    link = facts.layout.snapshot_link
    conditions = unit.path_conditions
    evaluated = f"last evaluated {_when(unit.condition_time)}: ConditionResult={unit.condition_result}"
    evidence = "; ".join([*(_condition_text(c) for c in conditions), *unit.other_conditions, evaluated])
    names_link = [c for c in conditions if c.path == link and not c.negated]
    if not names_link:
        waits = ", ".join(c.path for c in conditions) or "nothing"
        return failed(f"it waits for {waits}, but backups maintain {link}", evidence)
    others = [c for c in conditions if c not in names_link]
    required = [c for c in others if not c.triggering]
    triggering = [c for c in others if c.triggering]
    unmet = [_condition_text(c) for c in required if not _holds(facts, c)]
    if triggering and not any(_holds(facts, c) for c in triggering):
        unmet.append("none of " + ", ".join(_condition_text(c) for c in triggering))
    if unit.other_conditions and unit.other_conditions_hold is False:
        unmet.append(f"{', '.join(unit.other_conditions)} (systemd-analyze condition says no)")
    elif unit.other_conditions and unit.other_conditions_hold is None:
        evidence += "; other conditions not evaluated (no systemd-analyze condition)"
    if unmet:
        return failed(f"besides the snapshot link, unmet: {'; '.join(unmet)}", evidence)
    # ConditionResult itself is evidence only: it is stale after a unit change and "no" also
    # means "never evaluated"; the conditions were judged above as they stand now.
    return passed(evidence)


def auto_restore_ordered(facts: HostFacts) -> Finding:
    unit = _unit(facts, facts.layout.config.units.auto_restore)
    if unit is None or not unit.loaded:
        return not_applicable("the auto-restore unit is not loaded: see DR-RESTORE-001")
    k3s = facts.layout.config.units.k3s
    evidence = f"After={' '.join(unit.after) or '-'}; Wants={' '.join(unit.wants) or '-'}"
    missing = [dep for dep, listed in (("After", unit.after), ("Wants", unit.wants)) if k3s not in listed]
    if missing:
        return failed(f"{unit.name} lacks {' and '.join(f'{m}={k3s}' for m in missing)}", evidence)
    return passed(evidence)


def auto_restore_guarded(facts: HostFacts) -> Finding:
    """It must run ``k3s-dr … restore --auto``, not a script with its own, untested rules."""
    unit = _unit(facts, facts.layout.config.units.auto_restore)
    if unit is None or not unit.loaded:
        return not_applicable("the auto-restore unit is not loaded: see DR-RESTORE-001")
    commands = [" ".join(argv) for argv in unit.exec_argv]
    evidence = f"ExecStart: {'; '.join(commands) or '(none)'}"
    guarded = [argv for argv in unit.exec_argv
               if argv and argv[0].rsplit("/", 1)[-1] == "k3s-dr" and "restore" in argv and "--auto" in argv]
    if len(guarded) != len(unit.exec_argv) or not guarded:
        return failed("it does not run `k3s-dr restore --auto`; a custom script decides with rules nobody tested",
                      evidence)
    return passed(evidence)
