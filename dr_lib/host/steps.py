"""Changes to a host as values: planned purely, shown by ``--dry-run``, applied in order.

``install`` and ``fix`` both plan a list of :class:`Step`; nothing touches the host until
:func:`apply_steps`, so a dry run shows exactly what a real run does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dr_lib.host.fsops import Root
from dr_lib.host.systemd import Systemctl
from dr_lib.host.units import FOREIGN_SUFFIX, MANAGED_MARKER, ManagedFile


class Kind(StrEnum):
    MKDIR = "mkdir"
    CHMOD = "chmod"
    MOVE_ASIDE = "move-aside"
    WRITE = "write"
    SYSTEMCTL = "systemctl"
    RELINK = "relink"
    REMOVE = "remove"
    KEYGEN = "keygen"  # a new signing key pair in the directory named (dr_lib.signing.keys)


@dataclass(frozen=True)
class Step:
    kind: Kind
    target: str
    reason: str
    control: str = ""  # the control a fix step repairs
    content: str | None = None
    mode: int | None = None
    args: tuple[str, ...] = ()
    diff: str = ""

    def describe(self) -> str:
        prefix = f"{self.control}: " if self.control else ""
        if self.kind is Kind.SYSTEMCTL:
            return f"{prefix}systemctl {' '.join(self.args)}  ({self.reason})"
        if self.kind is Kind.RELINK:
            return f"{prefix}{self.target} → {self.args[0]}  ({self.reason})"
        if self.kind in (Kind.CHMOD, Kind.MKDIR) and self.mode is not None:
            return f"{prefix}{self.kind} {self.mode:04o} {self.target}  ({self.reason})"
        return f"{prefix}{self.kind} {self.target}  ({self.reason})"

    def as_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"action": str(self.kind), "target": self.target, "reason": self.reason,
                                 "text": self.describe()}
        if self.control:
            value["control"] = self.control
        if self.args:
            value["args"] = list(self.args)
        return value


def unified_diff(old: str, new: str, path: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"{path} (now)", tofile=f"{path} (new)", n=1)
    return "".join(lines)


def file_steps(desired: Iterable[ManagedFile], current: Mapping[str, str | None], control: str = "") -> list[Step]:
    """Create missing files, update changed ones; a file we did not write is kept aside first."""
    steps: list[Step] = []
    for wanted in desired:
        now = current.get(wanted.path)
        if now == wanted.content or (wanted.keep_existing and now is not None):
            continue
        if now is None:
            steps.append(Step(Kind.WRITE, wanted.path, "missing", control, wanted.content, wanted.mode))
            continue
        if MANAGED_MARKER not in now:
            steps.append(Step(Kind.MOVE_ASIDE, wanted.path, f"not written by k3s-dr: kept as {wanted.path}"
                              f"{FOREIGN_SUFFIX}", control, args=(FOREIGN_SUFFIX,)))
        steps.append(Step(Kind.WRITE, wanted.path, "differs from what the configuration renders", control,
                          wanted.content, wanted.mode, diff=unified_diff(now, wanted.content, wanted.path)))
    return steps


def apply_steps(steps: Sequence[Step], root: Root, systemctl: Systemctl) -> list[str]:
    """Carry the steps out in order; returns what was done, one line per step."""
    done: list[str] = []
    for step in steps:
        if step.kind is Kind.MKDIR:
            root.make_dir(step.target, step.mode or 0o755)
        elif step.kind is Kind.CHMOD:
            root.chmod(step.target, step.mode or 0o600)
        elif step.kind is Kind.MOVE_ASIDE:
            root.move_aside(step.target, step.args[0])
        elif step.kind is Kind.WRITE:
            root.write_text(step.target, step.content or "", step.mode or 0o644)
        elif step.kind is Kind.SYSTEMCTL:
            systemctl(*step.args)
        elif step.kind is Kind.RELINK:
            root.relink(step.target, step.args[0])
        elif step.kind is Kind.REMOVE:
            root.remove(step.target)
        elif step.kind is Kind.KEYGEN:
            root.keygen(step.target)
        done.append(step.describe())
    return done
