"""``k3s-dr install --migrate`` and ``--migrate --undo``: the seed's scripts taken out of service (or back)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import UsageError
from dr_lib.host import migrate
from dr_lib.host.fsops import Root
from dr_lib.host.migrate import Change
from dr_lib.host.seedscan import SeedFindings, legacy_archive_paths, read_candidates
from dr_lib.host.systemd import Systemctl, systemctl, unit_states


@dataclass(frozen=True)
class Migration:
    changes: tuple[Change, ...]
    undo: bool
    dry_run: bool
    record: str | None = None  # the record written (a migration) or marked undone (an undo)

    def texts(self) -> list[str]:
        return [migrate.undo_text(c) if self.undo else c.describe() for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        return {"undo": self.undo, "dry_run": self.dry_run, "record": self.record,
                "changes": [{"action": c.kind, "path": c.path, "text": text}
                            for c, text in zip(self.changes, self.texts(), strict=True)]}


def seed_findings(root: Root | None = None) -> SeedFindings:
    return read_candidates(root or Root())


def _archive_modes(root: Root, config: Config) -> dict[str, int]:
    return {path: root(path).stat().st_mode & 0o7777 for path in legacy_archive_paths(root, config.backup.dir)}


def migrate_host(config: Config, findings: SeedFindings, *, dry_run: bool, root: Root | None = None,
                 run: Systemctl = systemctl) -> Migration:
    base = root or Root()
    now = utc_now()
    names = [u.name for u in findings.units]
    units = unit_states(run, names) if names else {}
    where = migrate.migration_dir(base, config.restore.state_dir, now)
    changes = migrate.plan_migration(findings, units, _archive_modes(base, config), where)
    if dry_run or not changes:
        return Migration(tuple(changes), undo=False, dry_run=dry_run)
    record = migrate.apply(changes, base, run, where, now)
    return Migration(tuple(changes), undo=False, dry_run=False, record=record)


def undo_migration(config: Config, *, dry_run: bool, root: Root | None = None,
                   run: Systemctl = systemctl) -> Migration:
    base = root or Root()
    found = migrate.newest_record(base, config.restore.state_dir)
    if found is None:
        raise UsageError(f"no migration to undo under {config.restore.state_dir}/{migrate.MIGRATED}",
                         hint="`k3s-dr install --migrate` records what it changes there")
    record, data = found
    changes = migrate.undo_changes(data) if dry_run else migrate.undo(base, run, record, data, now=utc_now())
    return Migration(tuple(changes), undo=True, dry_run=dry_run, record=record)
