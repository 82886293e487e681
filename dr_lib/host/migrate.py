"""``k3s-dr install --migrate``: the seed's scripts stopped, kept, recorded; ``--migrate --undo`` puts them back.

Nothing is deleted. Each unit :mod:`.seedscan` finds is disabled (and stopped) and moved under
``<restore.state_dir>/migrated/<UTC time>/`` at its own path; a cron table keeps its other lines
and gets each seed line commented out (the original saved there first); a run-parts script is moved;
the seed's archives, world-readable as its ``tar`` left them, become 0600 (they hold Secrets). Every
change is appended to ``record.json`` in that directory as soon as it is made (atomically), so a
migration stopped half-way is recorded as far as it went, and ``--undo`` reverses the newest record
change by change: files back where they were, units enabled (timers started) again as they were,
modes as they were. The archives stay readable by k3s-dr (``list``, ``verify``, ``restore``).

Planning is pure (:func:`plan_migration`); :func:`apply` and :func:`undo` are the I/O.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.atomic import fsync_dir, write_atomic
from dr_lib.checks.units import UnitFacts
from dr_lib.errors import UsageError
from dr_lib.host.fsops import Root
from dr_lib.host.seedscan import SeedFindings
from dr_lib.host.systemd import Systemctl

RECORD_FORMAT = "k3s-dr-migration"
RECORD_NAME = "record.json"
MIGRATED = "migrated"
COMMENT = "#k3s-dr-migrated# "
ARCHIVE_MODE = 0o600


@dataclass(frozen=True)
class Change:
    """One change to the host, as recorded (and undone)."""

    kind: str  # "unit" | "cron-lines" | "file" | "mode"
    path: str
    why: str
    saved: str = ""  # where the original now is (unit, file) or a copy of it (cron-lines)
    enabled: bool = False  # a unit that was enabled: undo enables it again
    active: bool = False  # a unit that was active (a timer waiting): undo starts it again
    lines: tuple[int, ...] = ()  # cron-lines: the 1-based lines commented out
    mode: int | None = None  # mode: what it was
    new_mode: int | None = None

    def describe(self) -> str:
        if self.kind == "unit":
            state = ", ".join(s for s, on in (("was enabled", self.enabled), ("was active", self.active)) if on)
            return f"disable and move {self.path} to {self.saved}{f' ({state})' if state else ''}: {self.why}"
        if self.kind == "cron-lines":
            return (f"comment out line {', '.join(map(str, self.lines))} of {self.path} (original kept as "
                    f"{self.saved}): {self.why}")
        if self.kind == "file":
            return f"move {self.path} to {self.saved}: {self.why}"
        return f"chmod {self.new_mode or 0:04o} {self.path} (was {self.mode or 0:04o}): {self.why}"

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["lines"] = list(self.lines)
        return {k: v for k, v in value.items() if v not in ("", None, False, [])}

    @classmethod
    def from_json(cls, value: Any) -> Change:
        if not isinstance(value, dict) or value.get("kind") not in ("unit", "cron-lines", "file", "mode"):
            raise UsageError(f"the migration record holds an unknown change: {str(value)[:120]}")
        known = {f: value[f] for f in cls.__dataclass_fields__ if f in value}
        known["lines"] = tuple(int(n) for n in known.get("lines", ()))
        return cls(**known)


def migration_dir(root: Root, state_dir: str, now: datetime) -> str:
    """A new directory name under ``<state_dir>/migrated/`` for this migration (never an earlier one's)."""
    base = posixpath.join(state_dir, MIGRATED, now.strftime("%Y%m%dT%H%M%SZ"))
    where, counter = base, 1
    while root(where).exists():
        counter += 1
        where = f"{base}-{counter}"
    return where


def _saved(where: str, path: str) -> str:
    return posixpath.join(where, path.lstrip("/"))


def plan_migration(findings: SeedFindings, units: Mapping[str, UnitFacts], archives: Mapping[str, int],
                   where: str) -> list[Change]:
    """The changes, in order: timers before the services they start, then cron, then the archives' modes."""
    changes = []
    for unit in sorted(findings.units, key=lambda u: (not u.name.endswith(".timer"), u.name)):
        facts = units.get(unit.name)
        enabled = facts is not None and facts.unit_file_state == "enabled"
        active = facts is not None and facts.active_state in ("active", "activating", "reloading")
        changes.append(Change("unit", unit.path, unit.why, _saved(where, unit.path), enabled, active))
    for cron in findings.cron:
        kind = "cron-lines" if cron.lines else "file"
        changes.append(Change(kind, cron.path, cron.why, _saved(where, cron.path), lines=cron.lines))
    for path, mode in sorted(archives.items()):
        if mode & 0o077:
            changes.append(Change("mode", path, "an archive of the seed's scripts holds Secrets", mode=mode,
                                  new_mode=ARCHIVE_MODE))
    return changes


def _move(root: Root, source: str, target: str) -> None:
    """Rename (or copy and remove, across file systems) ``source`` to ``target``, which must not exist."""
    src, dst = root(source), root(target)
    if dst.exists() or dst.is_symlink():
        raise UsageError(f"cannot move {source} to {target}: {target} exists", hint="move it away first")
    _private_dirs(dst.parent)
    try:
        src.rename(dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copy2(src, dst)
        src.unlink()
    fsync_dir(dst.parent)
    fsync_dir(src.parent)


def _comment_out(root: Root, change: Change) -> None:
    path = root(change.path)
    st = path.stat()
    copy = root(change.saved)
    _private_dirs(copy.parent)
    shutil.copy2(path, copy)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for number in change.lines:
        lines[number - 1] = COMMENT + lines[number - 1]
    _rewrite(path, "".join(lines), st)


def _rewrite(path: Path, text: str, st: os.stat_result) -> None:
    """Replace ``path`` atomically keeping its mode, owner and group (cron reads a crontab by its owner)."""
    write_atomic(path, text, mode=stat.S_IMODE(st.st_mode))
    with contextlib.suppress(PermissionError):
        os.chown(path, st.st_uid, st.st_gid)


def _private_dirs(path: Path) -> None:
    """``path`` and its missing parents, each created 0700: the kept files include the seed's units and crontabs."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700)
        directory.chmod(0o700)


def _write_record(root: Root, record: str, data: dict[str, Any]) -> None:
    target = root(record)
    _private_dirs(target.parent)
    write_atomic(target, json.dumps(data, indent=2) + "\n", mode=0o600)


def _apply_one(root: Root, run: Systemctl, change: Change) -> None:
    if change.kind == "unit":
        name = posixpath.basename(change.path)
        if change.enabled or change.active:
            run("disable", "--now", name)
        _move(root, change.path, change.saved)
    elif change.kind == "cron-lines":
        _comment_out(root, change)
    elif change.kind == "file":
        _move(root, change.path, change.saved)
    else:
        root(change.path).chmod(change.new_mode or ARCHIVE_MODE)


def apply(changes: Sequence[Change], root: Root, run: Systemctl, where: str, now: datetime) -> str:
    """Make the changes, recording each as soon as it is made; the record's path."""
    record = posixpath.join(where, RECORD_NAME)
    data: dict[str, Any] = {"format": RECORD_FORMAT, "format_version": 1, "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "changes": [], "undone": None}
    _write_record(root, record, data)
    for change in changes:
        _apply_one(root, run, change)
        data["changes"].append(change.to_json())
        _write_record(root, record, data)
    if any(c.kind == "unit" for c in changes):
        run("daemon-reload")
    return record


def newest_record(root: Root, state_dir: str) -> tuple[str, dict[str, Any]] | None:
    """The newest migration record not undone yet."""
    base = root(posixpath.join(state_dir, MIGRATED))
    for directory in sorted(base.iterdir() if base.is_dir() else (), reverse=True):
        path = posixpath.join(state_dir, MIGRATED, directory.name, RECORD_NAME)
        text = root.read_text(path)
        try:
            data = json.loads(text) if text else None
        except ValueError:
            raise UsageError(f"the migration record {path} is not JSON", hint="undo its changes by hand") from None
        if isinstance(data, dict) and data.get("format") == RECORD_FORMAT and not data.get("undone"):
            return path, data
    return None


def undo_changes(data: dict[str, Any]) -> list[Change]:
    """The recorded changes, newest first (the order to reverse them)."""
    changes = data.get("changes")
    if not isinstance(changes, list):
        raise UsageError("the migration record lists no changes")
    return [Change.from_json(c) for c in reversed(changes)]


def _undo_one(root: Root, run: Systemctl, change: Change) -> None:
    if change.kind in ("unit", "file"):
        _move(root, change.saved, change.path)
        if change.kind == "unit":
            run("daemon-reload")
            name = posixpath.basename(change.path)
            if change.enabled:
                run("enable", name)
            if change.active:
                run("start", name)
    elif change.kind == "cron-lines":
        copy = root(change.saved)
        _rewrite(root(change.path), copy.read_text(encoding="utf-8"), copy.stat())
    elif root(change.path).exists():  # an archive rotation removed since is simply gone
        root(change.path).chmod(change.mode if change.mode is not None else ARCHIVE_MODE)


def undo(root: Root, run: Systemctl, record: str, data: dict[str, Any], *, now: datetime) -> list[Change]:
    """Reverse the record's changes, newest first; the record is then marked undone. The changes undone."""
    changes = undo_changes(data)
    for change in changes:
        _undo_one(root, run, change)
    _write_record(root, record, {**data, "undone": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return changes


def undo_text(change: Change) -> str:
    """What undoing ``change`` does, for the output."""
    if change.kind in ("unit", "file"):
        again = [w for w, on in (("enable", change.enabled), ("start", change.active)) if on]
        return f"move {change.saved} back to {change.path}" + (f", then {' and '.join(again)} it" if again else "")
    if change.kind == "cron-lines":
        return f"put {change.path} back as it was (from {change.saved})"
    return f"chmod {change.mode or 0:04o} {change.path}"

