"""What the seed's scripts left on a host: their units, their schedule, their archives (read only).

The scripts k3s-dr replaces (``/work/shared/seed``: ``backup-cluster-state.sh`` run every hour,
``restore-cluster-state.sh`` as ``k3s-auto-restore.service``) were installed by hand: units in
``/etc/systemd/system``, a cron line or a timer, archives ``k3s-cluster-backup-{1,2}.tar.gz``. Left
running beside k3s-dr they would take their own backups every hour and repoint ``latest-backup.tar.gz``
at theirs. Recognised by rules (data, each with the reason): a unit file or cron entry that runs
one of :data:`SEED_SCRIPTS`, a timer that starts such a unit, and a ``k3s-auto-restore.service`` in
``/etc/systemd/system`` that k3s-dr did not write. Parsing is pure (:func:`scan`), reading is
:func:`read_candidates`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dr_lib.archive.legacy import is_legacy_name
from dr_lib.host.fsops import Root
from dr_lib.host.units import ADMIN_UNIT_DIR, MANAGED_MARKER

# Script name → what it did (the seed report's names; found wherever they were installed).
SEED_SCRIPTS: Mapping[str, str] = {
    "backup-cluster-state.sh": "the seed's hourly backup (kubectl lists in a tar.gz; it repoints latest-backup.tar.gz)",
    "restore-cluster-state.sh": "the seed's restore (skipped with more than 5 deployments, at most once a day)",
    "fix-restore-symlink.sh": "the seed's repair of the snapshot link",
    "test-backup-restore.sh": "the seed's 8 checks",
}
SEED_AUTO_RESTORE = "k3s-auto-restore.service"
CRON_FILES = ("/etc/crontab",)
CRON_DIRS = ("/etc/cron.d", "/var/spool/cron/crontabs")  # files of cron lines
CRON_SCRIPT_DIRS = ("/etc/cron.hourly", "/etc/cron.daily")  # whole scripts run by run-parts
_UNIT_SUFFIXES = (".service", ".timer")
_EXEC = re.compile(r"^\s*Exec[A-Za-z]*\s*=\s*(?P<command>.+)$")
_TIMER_UNIT = re.compile(r"^\s*Unit\s*=\s*(?P<unit>\S+)\s*$")


@dataclass(frozen=True)
class SeedUnit:
    path: str  # /etc/systemd/system/<name>
    name: str
    why: str


@dataclass(frozen=True)
class SeedCron:
    path: str
    lines: tuple[int, ...]  # 1-based numbers of the lines that run a seed script; () for a whole script
    why: str


@dataclass(frozen=True)
class SeedFindings:
    units: tuple[SeedUnit, ...] = ()
    cron: tuple[SeedCron, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.units or self.cron)

    def describe(self) -> list[str]:
        found = [f"{u.path} ({u.why})" for u in self.units]
        for cron in self.cron:
            lines = " line " + ", ".join(map(str, cron.lines)) if cron.lines else ""
            found.append(f"{cron.path}{lines} ({cron.why})")
        return found


def _script_in(text: str) -> str | None:
    for script, why in SEED_SCRIPTS.items():
        if re.search(rf"(^|[/\s]){re.escape(script)}(\s|$|;|\")", text):
            return f"runs {script}: {why}"
    return None


def _unit_runs_seed(content: str) -> str | None:
    for line in content.splitlines():
        match = _EXEC.match(line)
        if match:
            why = _script_in(match["command"])
            if why:
                return why
    return None


def _timer_target(name: str, content: str) -> str:
    for line in content.splitlines():
        match = _TIMER_UNIT.match(line)
        if match:
            return match["unit"]
    return name.removesuffix(".timer") + ".service"


def scan_units(files: Mapping[str, str]) -> list[SeedUnit]:
    """``files``: name → content of the unit files in /etc/systemd/system (regular files only)."""
    found: dict[str, SeedUnit] = {}
    for name, content in sorted(files.items()):
        why = _unit_runs_seed(content)
        if why is None and name == SEED_AUTO_RESTORE and MANAGED_MARKER not in content:
            why = "the seed's auto-restore unit (not written by k3s-dr)"
        if why and name.endswith(".service"):
            found[name] = SeedUnit(f"{ADMIN_UNIT_DIR}/{name}", name, why)
    for name, content in sorted(files.items()):
        if name.endswith(".timer") and _timer_target(name, content) in found:
            target = _timer_target(name, content)
            found[name] = SeedUnit(f"{ADMIN_UNIT_DIR}/{name}", name, f"schedules {target}, which {found[target].why}")
    return sorted(found.values(), key=lambda u: u.name)


def scan_cron(files: Mapping[str, str], scripts: Mapping[str, str]) -> list[SeedCron]:
    """``files``: cron tables (path → content); ``scripts``: run-parts scripts (path → content)."""
    found = []
    for path, content in sorted(files.items()):
        lines, whys = [], []
        for number, line in enumerate(content.splitlines(), start=1):
            if line.lstrip().startswith("#"):
                continue
            why = _script_in(line)
            if why:
                lines.append(number)
                whys.append(why)
        if lines:
            found.append(SeedCron(path, tuple(lines), "; ".join(dict.fromkeys(whys))))
    for path, content in sorted(scripts.items()):
        why = _script_in(content)
        if why:
            found.append(SeedCron(path, (), why))
    return found


def _regular_files(root: Root, directory: str, suffixes: tuple[str, ...] = ()) -> dict[str, str]:
    base = root(directory)
    if not base.is_dir():
        return {}
    found = {}
    for path in sorted(base.iterdir()):
        if path.is_symlink() or not path.is_file() or (suffixes and not path.name.endswith(suffixes)):
            continue
        text = root.read_text(posixpath.join(directory, path.name))
        if text is not None:
            found[path.name] = text
    return found


def read_candidates(root: Root) -> SeedFindings:
    """Read what may hold the seed's units and schedule, and judge it."""
    units = _regular_files(root, ADMIN_UNIT_DIR, _UNIT_SUFFIXES)
    tables = {path: text for path in CRON_FILES if (text := root.read_text(path)) is not None}
    for directory in CRON_DIRS:
        tables |= {posixpath.join(directory, n): t for n, t in _regular_files(root, directory).items()}
    scripts = {posixpath.join(d, n): t for d in CRON_SCRIPT_DIRS for n, t in _regular_files(root, d).items()}
    return SeedFindings(tuple(scan_units(units)), tuple(scan_cron(tables, scripts)))


def legacy_archive_paths(root: Root, backup_dir: str) -> list[str]:
    """The seed's archives in the backup directory (their names: dr_lib.archive.legacy)."""
    base = root(backup_dir)
    if not base.is_dir():
        return []
    return sorted(posixpath.join(backup_dir, p.name) for p in base.iterdir()
                  if is_legacy_name(p.name) and p.is_file() and not p.is_symlink())
