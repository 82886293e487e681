"""The state file: the latest record of each kind, read and updated atomically under a lock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from dr_lib.metrics.files import atomic_write_text, locked, os_problem
from dr_lib.metrics.records import State

STATE_FILE_MODE = 0o644


def read_state(path: Path) -> State:
    """The state at ``path``; an empty state when there is none yet.

    Raises EnvironmentProblem when the file exists but cannot be read or is not ours: the
    caller decides whether that is fatal (an update starts afresh; a scrape reports it).
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise os_problem(exc, "read the metrics state", path) from None
    try:
        return State.from_dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise EnvironmentProblem(f"the metrics state {str(path)!r} is unreadable: {exc}",
                                 hint="it is rewritten by the next backup, restore or drill") from None


def update_state(path: Path, change: Callable[[State], State]) -> tuple[State, str | None]:
    """Apply ``change`` to the stored state and write it back; returns the new state and a warning
    when the old one was unreadable (it is then replaced rather than left blocking every update)."""
    with locked(path):
        warning = None
        try:
            current = read_state(path)
        except EnvironmentProblem as exc:
            current, warning = State(), f"{exc}; starting a new one"
        new = change(current)
        atomic_write_text(path, json.dumps(new.to_dict(), indent=2, sort_keys=True) + "\n", mode=STATE_FILE_MODE)
    return new, warning
