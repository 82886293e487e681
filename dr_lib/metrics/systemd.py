"""What systemd says about the backup timer and the auto-restore unit, for the metrics.

* Seconds to the next backup: the timer's ``NextElapseUSecRealtime`` (calendar timers, printed
  as a UTC date because we run systemctl with ``TZ=UTC``) or ``NextElapseUSecMonotonic``
  (``OnUnitActiveSec``/``OnBootSec`` timers, printed as a span since boot), whichever is first.
* Whether the auto-restore unit would fire at the next boot: enabled, not masked, and its
  ``ConditionPathExists=`` entries hold *now* (``ConditionResult`` is stale after a change and
  "no" also means "never evaluated", so it is not trusted).

Parsing is pure; :func:`query` runs ``systemctl`` through a runner with a deadline. Without
systemd (:func:`systemd_running` false) the caller emits none of these metrics.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dr_lib import proc
from dr_lib.checks.units import PathCondition, parse_conditions, parse_show, timespan_seconds
from dr_lib.errors import DRError

Runner = Callable[[Sequence[str]], tuple[int, str]]
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")  # what sd_booted() tests
COMMAND_TIMEOUT_SECONDS = 5.0
_UTC_DATE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC$")


@dataclass(frozen=True)
class UnitReadiness:
    loaded: bool
    enabled: bool
    masked: bool
    conditions_hold: bool
    unmet: tuple[str, ...] = ()

    @property
    def would_fire(self) -> bool:
        return self.loaded and self.enabled and not self.masked and self.conditions_hold


@dataclass(frozen=True)
class SystemdFacts:
    next_backup_at: float | None  # epoch seconds; None when the timer has nothing scheduled
    auto_restore: UnitReadiness
    problem: str = ""


def systemd_running(runtime_dir: Path = SYSTEMD_RUNTIME_DIR) -> bool:
    return runtime_dir.is_dir()


def next_elapse(realtime: str, monotonic: str, now: float, now_monotonic: float) -> float | None:
    """Epoch seconds of the timer's next run, from ``systemctl show`` text (pure)."""
    candidates = []
    match = _UTC_DATE.search(realtime.strip())
    if match:
        candidates.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())
    span = timespan_seconds(monotonic.strip()) if monotonic.strip() not in ("", "0") else None
    if span is not None and span > 0:
        candidates.append(now + (span - now_monotonic))
    return min(candidates) if candidates else None


def _holds(condition: PathCondition, exists: Callable[[str], bool]) -> bool:
    return exists(condition.path) != condition.negated


def readiness(load_state: str, unit_file_state: str, conditions: Sequence[PathCondition],
              exists: Callable[[str], bool]) -> UnitReadiness:
    """systemd's rule: every plain condition must hold, and one of the triggering (``|``) ones."""
    plain = [c for c in conditions if not c.triggering]
    triggering = [c for c in conditions if c.triggering]
    unmet = [f"ConditionPathExists={'!' if c.negated else ''}{c.path}" for c in plain if not _holds(c, exists)]
    if triggering and not any(_holds(c, exists) for c in triggering):
        unmet.append("none of the triggering ConditionPathExists=| entries")
    masked = load_state == "masked" or unit_file_state.startswith("masked")
    return UnitReadiness(load_state == "loaded", unit_file_state == "enabled", masked, not unmet, tuple(unmet))


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    try:
        done = proc.run(argv, timeout=COMMAND_TIMEOUT_SECONDS, env={"TZ": "UTC", "SYSTEMD_PAGER": "", "LC_ALL": "C"},
                        check=False)
    except DRError as exc:  # not installed, or past its deadline: no metrics from systemd, and why
        return 127, f"{type(exc).__name__}: {exc}"
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr


def query(timer: str, auto_restore: str, now: float, now_monotonic: float, *,
          exists: Callable[[str], bool] = os.path.exists, run: Runner = run_command) -> SystemdFacts:
    status, out = run(["systemctl", "show", "-p", "NextElapseUSecRealtime,NextElapseUSecMonotonic,LoadState,"
                       "UnitFileState", "--", timer, auto_restore])
    blocks = parse_show(out) if status == 0 else []
    if len(blocks) != 2:
        problem = f"systemctl show {timer} {auto_restore} failed (exit {status}): {out.strip()[-200:]}"
        return SystemdFacts(None, UnitReadiness(False, False, False, False), problem)
    timer_block, unit_block = blocks

    def first(block: dict[str, list[str]], key: str) -> str:
        return (block.get(key) or [""])[0]

    next_at = next_elapse(first(timer_block, "NextElapseUSecRealtime"), first(timer_block, "NextElapseUSecMonotonic"),
                          now, now_monotonic)
    conditions: tuple[PathCondition, ...] = ()
    if first(unit_block, "LoadState") == "loaded":
        cat_status, cat_text = run(["systemctl", "cat", "--", auto_restore])
        conditions = parse_conditions(cat_text)[0] if cat_status == 0 else ()
    unit = readiness(first(unit_block, "LoadState"), first(unit_block, "UnitFileState"), conditions, exists)
    return SystemdFacts(next_at, unit)
