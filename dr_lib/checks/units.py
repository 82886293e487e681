"""What systemd says about a unit, parsed from ``systemctl show`` and ``systemctl cat`` text (pure).

Times come as ``…Monotonic`` microseconds (every systemd has them, unlike ``--timestamp=unix``)
and are turned into epoch seconds with the host's own clocks (:class:`HostClock`), so ages are
computed on the host under test, never on the machine running the suite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SHOW_PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result", "ExecMainStatus",
    "ExecMainStartTimestampMonotonic", "ConditionResult", "ConditionTimestampMonotonic", "NeedDaemonReload",
    "FragmentPath", "DropInPaths", "ExecStart", "After", "Wants", "TimersMonotonic", "TimersCalendar",
    "LastTriggerUSecMonotonic",
)

_TIMESPAN_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2629800, "month": 2629800, "months": 2629800, "y": 31557600, "year": 31557600, "years": 31557600,
}
_TIMESPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")


@dataclass(frozen=True)
class HostClock:
    """The host's wall clock and monotonic clock read at the same instant."""

    now: float
    monotonic: float
    utc_offset: int = 0

    def from_monotonic_us(self, value: str | int | None) -> float | None:
        """Epoch seconds of a systemd ``…Monotonic`` value; None for 0 (never happened)."""
        try:
            micros = int(value or 0)
        except ValueError:
            return None
        if micros <= 0:
            return None
        return self.now - (self.monotonic - micros / 1e6)


@dataclass(frozen=True)
class PathCondition:
    path: str
    negated: bool = False
    triggering: bool = False  # "|": any one triggering condition suffices


@dataclass(frozen=True)
class UnitFacts:
    name: str
    load_state: str
    active_state: str
    sub_state: str
    unit_file_state: str
    result: str
    exec_main_status: int | None
    exec_main_start: float | None
    condition_result: str
    condition_time: float | None
    need_daemon_reload: bool
    fragment_path: str
    drop_ins: tuple[str, ...]
    exec_paths: tuple[str, ...]
    exec_argv: tuple[tuple[str, ...], ...]
    after: tuple[str, ...]
    wants: tuple[str, ...]
    timer_intervals: tuple[tuple[str, float], ...]
    calendars: tuple[str, ...]
    last_trigger: float | None
    path_conditions: tuple[PathCondition, ...] = ()
    other_conditions: tuple[str, ...] = ()
    other_conditions_hold: bool | None = None  # by `systemd-analyze condition`; None: not evaluated

    @property
    def loaded(self) -> bool:
        return self.load_state == "loaded"

    @property
    def masked(self) -> bool:
        return self.load_state == "masked" or self.unit_file_state.startswith("masked")


def parse_show(text: str) -> list[dict[str, list[str]]]:
    """``systemctl show`` of several units: one block per unit, separated by blank lines."""
    blocks: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current.setdefault(key, []).append(value)
    return blocks


def timespan_seconds(text: str) -> float | None:
    """systemd's time span text (``1h 30min``, ``5min``, ``45s``, ``100ms``) in seconds."""
    parts = _TIMESPAN_PART.findall(text)
    if not parts or _TIMESPAN_PART.sub("", text).strip():
        return None
    total = 0.0
    for number, unit in parts:
        if unit not in _TIMESPAN_UNITS:
            return None
        total += float(number) * _TIMESPAN_UNITS[unit]
    return total


def exec_paths(values: Sequence[str]) -> tuple[str, ...]:
    """The programs of ``ExecStart={ path=/usr/bin/x ; argv[]=… }`` entries."""
    found = []
    for value in values:
        match = re.search(r"\bpath=([^ ;]+)", value)
        if match:
            found.append(match.group(1))
    return tuple(found)


def exec_argvs(values: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The command lines of ``ExecStart={ path=… ; argv[]=/usr/bin/x a b ; … }`` entries."""
    found = []
    for value in values:
        match = re.search(r"\bargv\[\]=(.*?) ; ", value)
        if match:
            found.append(tuple(match.group(1).split()))
    return tuple(found)


def _timer_intervals(values: Sequence[str]) -> tuple[tuple[str, float], ...]:
    found = []
    for value in values:
        match = re.search(r"\{\s*(On\w+?)USec=([^;]+);", value)
        if match:
            seconds = timespan_seconds(match.group(2).strip())
            if seconds is not None:
                found.append((match.group(1), seconds))
    return tuple(found)


def _first(block: Mapping[str, list[str]], key: str) -> str:
    values = block.get(key)
    return values[0] if values else ""


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def unit_from_block(block: Mapping[str, list[str]], clock: HostClock, name: str | None = None) -> UnitFacts:
    return UnitFacts(
        name=name or _first(block, "Id"),
        load_state=_first(block, "LoadState"),
        active_state=_first(block, "ActiveState"),
        sub_state=_first(block, "SubState"),
        unit_file_state=_first(block, "UnitFileState"),
        result=_first(block, "Result"),
        exec_main_status=_int(_first(block, "ExecMainStatus")),
        exec_main_start=clock.from_monotonic_us(_first(block, "ExecMainStartTimestampMonotonic")),
        condition_result=_first(block, "ConditionResult"),
        condition_time=clock.from_monotonic_us(_first(block, "ConditionTimestampMonotonic")),
        need_daemon_reload=_first(block, "NeedDaemonReload") == "yes",
        fragment_path=_first(block, "FragmentPath"),
        drop_ins=tuple(_first(block, "DropInPaths").split()),
        exec_paths=exec_paths(block.get("ExecStart", [])),
        exec_argv=exec_argvs(block.get("ExecStart", [])),
        after=tuple(_first(block, "After").split()),
        wants=tuple(_first(block, "Wants").split()),
        timer_intervals=_timer_intervals(block.get("TimersMonotonic", [])),
        calendars=tuple(block.get("TimersCalendar", [])),
        last_trigger=clock.from_monotonic_us(_first(block, "LastTriggerUSecMonotonic")),
    )


def parse_units(show_text: str, names: Sequence[str], clock: HostClock) -> dict[str, UnitFacts]:
    """Units in the order they were asked for (``systemctl show`` keeps it, also for unknown units)."""
    blocks = parse_show(show_text)
    if len(blocks) != len(names):
        raise ValueError(f"systemctl show returned {len(blocks)} blocks for {len(names)} units")
    return {name: unit_from_block(block, clock, name) for name, block in zip(names, blocks, strict=True)}


def parse_conditions(cat_text: str) -> tuple[tuple[PathCondition, ...], tuple[str, ...]]:
    """ConditionPathExists= entries of ``systemctl cat`` (unit file and drop-ins, in order).

    An empty assignment resets the list, as systemd does. Other Condition*/Assert* lines are
    returned by name: the suite reports them but does not evaluate them.
    """
    paths: list[PathCondition] = []
    others: list[str] = []
    for raw in cat_text.splitlines():
        line = raw.strip()
        if line.startswith(("#", ";")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "ConditionPathExists":
            if not value:
                paths.clear()
                continue
            triggering = value.startswith("|")
            value = value.lstrip("|")
            negated = value.startswith("!")
            paths.append(PathCondition(value.lstrip("!"), negated, triggering))
        elif key.startswith(("Condition", "Assert")):
            others.append(f"{key}={value}")
    return tuple(paths), tuple(others)
