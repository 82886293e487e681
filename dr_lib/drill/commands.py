"""Run ``k3s-dr`` commands the way an operator does: as processes, reading their ``--json`` result.

The drill proves the commands an operator would type, not library calls they never make. The
same interpreter runs them (``python -m dr_lib``), so an installed package drills itself.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dr_lib import proc
from dr_lib.errors import DeadlineExceeded

MAX_STDERR_CHARS = 4000


@dataclass(frozen=True)
class CommandRun:
    """One finished ``k3s-dr`` command: what was typed, how it ended, what it said."""

    args: tuple[str, ...]
    returncode: int
    result: dict[str, Any] | None  # the --json object, when it printed one
    stderr: str
    seconds: float

    @property
    def command_line(self) -> str:
        return shlex.join(("k3s-dr", *self.args))

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        """One line saying how it failed: its own error line when it printed one."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        last = (errors or lines or ["(no output)"])[-1].strip()
        return f"`{self.command_line}` exited {self.returncode}: {last}"

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command_line, "exit_code": self.returncode, "seconds": round(self.seconds, 3)}


def still_waiting(result: dict[str, Any] | None, shown: int = 5) -> str:
    """What ``restore --wait`` was still waiting for when its deadline passed, as a clause."""
    pending = ((result or {}).get("wait") or {}).get("pending") or {}
    if not isinstance(pending, dict) or not pending:
        return ""
    items = [f"{key} ({reason})" for key, reason in list(pending.items())[:shown]]
    return "; still waiting for: " + ", ".join(items)


def _last_json_object(stdout: str) -> dict[str, Any] | None:
    for raw in reversed(stdout.strip().splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            return value if isinstance(value, dict) else None
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run_k3s_dr(args: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandRun:
    """Run ``k3s-dr ARGS`` with a deadline; never raises for a non-zero exit (that is data)."""
    argv = [sys.executable, "-m", "dr_lib", *args]
    try:
        done = proc.run(argv, timeout=timeout, env=env, inherit_env=False, check=False)
    except DeadlineExceeded:
        raise DeadlineExceeded(f"`{shlex.join(('k3s-dr', *args))}` did not finish within {timeout:.0f} s") from None
    return CommandRun(tuple(args), done.returncode, _last_json_object(done.stdout),
                      done.stderr[-MAX_STDERR_CHARS:], done.seconds)
