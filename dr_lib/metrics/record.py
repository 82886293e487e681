"""After every backup, restore, auto-restore decision and drill: update the state, rewrite the textfile.

Called by the jobs (``dr_lib.jobs.record``) once a run's result is known. Metrics must never fail the run they
describe, so these functions do not raise: they return warnings for the caller to print.
The textfile is written only where its directory exists (node_exporter's textfile collector
is installed); ``k3s-dr metrics --write`` creates it on purpose.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from dr_lib.config import Config
from dr_lib.errors import DRError
from dr_lib.metrics.collect import MetricsSettings, gather, render
from dr_lib.metrics.files import atomic_write_text
from dr_lib.metrics.records import BackupRecord, DecisionRecord, DrillRecord, PushRecord, RestoreRecord, State
from dr_lib.metrics.statefile import update_state


def write_textfile(settings: MetricsSettings, now: float, now_monotonic: float, *, path: Path | None = None,
                   make_parents: bool = False, state: State | None = None) -> tuple[Path, str]:
    """Render the full set now and replace the textfile atomically; returns (path, text)."""
    target = path or settings.textfile
    text = render(settings.prefix, gather(settings, now, now_monotonic, state=state))
    atomic_write_text(target, text, make_parents=make_parents)
    return target, text


def _record(config: Config, change: Callable[[State], State], *, strict: bool = False) -> list[str]:
    """``strict``: a state that cannot be updated raises (recording is then the command itself)."""
    settings = MetricsSettings.from_config(config)
    warnings: list[str] = []
    try:
        state, warning = update_state(settings.state_file, change)
    except DRError as exc:
        if strict:
            raise
        return [f"metrics not recorded: {exc}"]
    if warning:
        warnings.append(warning)
    if settings.textfile.parent.is_dir():
        try:
            write_textfile(settings, time.time(), time.monotonic(), state=state)
        except DRError as exc:
            warnings.append(f"metrics textfile not written: {exc}")
    return warnings


def record_backup(config: Config, record: BackupRecord) -> list[str]:
    return _record(config, lambda state: state.with_backup(record))


def record_restore(config: Config, record: RestoreRecord) -> list[str]:
    return _record(config, lambda state: state.with_restore(record))


def record_auto_restore(config: Config, decision: DecisionRecord, restore: RestoreRecord | None) -> list[str]:
    def change(state: State) -> State:
        state = state.with_decision(decision)
        return state.with_restore(restore) if restore is not None else state

    return _record(config, change)


def record_drill(config: Config, record: DrillRecord) -> list[str]:
    return _record(config, lambda state: state.with_drill(record))


def record_drill_evidence(config: Config, record: DrillRecord) -> tuple[bool, list[str]]:
    """A drill run elsewhere (CI): recorded unless the host already has a later drill; returns (recorded, warnings)."""
    recorded: list[bool] = []

    def change(state: State) -> State:
        if state.drill is not None and state.drill.at > record.at:
            return state
        recorded.append(True)
        return state.with_drill(record)

    warnings = _record(config, change, strict=True)
    return bool(recorded), warnings


def record_pushes(config: Config, records: Mapping[str, PushRecord]) -> list[str]:
    """One push, one record per offsite target it tried."""
    def change(state: State) -> State:
        for target, record in records.items():
            state = state.with_push(target, record)
        return state

    return _record(config, change)
