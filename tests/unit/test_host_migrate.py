"""The seed's scripts found, taken out of service with a record, and put back by undo: into a temporary
root, with a *fake* systemctl (named as such: the real systemd is exercised on the reference host,
tests/integration/test_migrate_reference_host.py)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dr_lib.config import Config
from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.host.fsops import Root
from dr_lib.host.migrate import COMMENT, newest_record
from dr_lib.host.seedscan import read_candidates, scan_cron, scan_units
from dr_lib.jobs.migrate import migrate_host, undo_migration

SCRIPTS = "/home/mpasqui/insightlearn_WASM/InsightLearn_WASM/k8s"
SEED_RESTORE_UNIT = f"""[Unit]
Description=K3s Cluster Auto-Restore Service
After=k3s.service
Wants=k3s.service
ConditionPathExists=/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz

[Service]
Type=oneshot
ExecStart={SCRIPTS}/restore-cluster-state.sh
TimeoutStartSec=600

[Install]
WantedBy=multi-user.target
"""
SEED_BACKUP_SERVICE = (f"[Unit]\nDescription=K3s backup\n\n[Service]\nType=oneshot\n"
                       f"ExecStart=/bin/bash {SCRIPTS}/backup-cluster-state.sh\n")
SEED_BACKUP_TIMER = ("[Unit]\nDescription=hourly\n\n[Timer]\nOnCalendar=hourly\nPersistent=true\n\n"
                     "[Install]\nWantedBy=timers.target\n")
OTHER_UNIT = "[Service]\nExecStart=/usr/sbin/nginx\n"
CRONTAB = (f"MAILTO=root\n5 * * * * {SCRIPTS}/backup-cluster-state.sh >> /var/log/k3s-backup.log 2>&1\n"
           "0 3 * * * /usr/bin/certbot renew\n")
CRON_D = f"SHELL=/bin/bash\n# k3s backup\n*/30 * * * * root {SCRIPTS}/backup-cluster-state.sh\n"
HOURLY = f"#!/bin/sh\nexec {SCRIPTS}/backup-cluster-state.sh\n"
NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


class FakeSystemctl:
    """A fake systemctl: records calls, answers `show` from a table, can be told to fail one call."""

    def __init__(self, states: dict[str, tuple[str, str]], fail_on: tuple[str, ...] = ()) -> None:
        self.states = states  # name → (UnitFileState, ActiveState)
        self.calls: list[tuple[str, ...]] = []
        self.fail_on = fail_on

    def __call__(self, *args: str) -> str:
        if args[0] == "show":
            names = args[3:]
            return "\n".join(f"Id={n}\nLoadState=loaded\nUnitFileState={self.states.get(n, ('', ''))[0]}\n"
                             f"ActiveState={self.states.get(n, ('', 'inactive'))[1]}\n" for n in names)
        self.calls.append(args)
        if args == self.fail_on:
            raise EnvironmentProblem(f"systemctl {' '.join(args)} failed (exit 1): the fake was told to fail")
        return ""


def seed_host(root: Path) -> dict[str, bytes]:
    """The seed's host as its report describes it, plus things that are not the seed's; returns what was there."""
    files = {
        "etc/systemd/system/k3s-auto-restore.service": SEED_RESTORE_UNIT,
        "etc/systemd/system/k3s-backup.service": SEED_BACKUP_SERVICE,
        "etc/systemd/system/k3s-backup.timer": SEED_BACKUP_TIMER,
        "etc/systemd/system/nginx.service": OTHER_UNIT,
        "var/spool/cron/crontabs/root": CRONTAB,
        "etc/cron.d/k3s-backup": CRON_D,
        "etc/cron.hourly/k3s-backup": HOURLY,
        "var/backups/k3s-cluster/k3s-cluster-backup-1.tar.gz": "one",
        "var/backups/k3s-cluster/k3s-cluster-backup-2.tar.gz": "two",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    (root / "var/spool/cron/crontabs/root").chmod(0o600)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir()
    (wants / "k3s-auto-restore.service").symlink_to("/etc/systemd/system/k3s-auto-restore.service")
    return {relative: (root / relative).read_bytes() for relative in files}


def config(root: Path) -> Config:
    return Config()  # paths are the host's; Root maps them under the temporary root


def test_the_seeds_units_timer_and_cron_are_found_and_nothing_else(tmp_path: Path) -> None:
    seed_host(tmp_path)
    found = read_candidates(Root(tmp_path))
    assert [u.name for u in found.units] == ["k3s-auto-restore.service", "k3s-backup.service", "k3s-backup.timer"]
    assert "schedules k3s-backup.service, which runs backup-cluster-state.sh" in found.units[2].why
    assert [(c.path, c.lines) for c in found.cron] == [("/etc/cron.d/k3s-backup", (3,)),
                                                       ("/var/spool/cron/crontabs/root", (2,)),
                                                       ("/etc/cron.hourly/k3s-backup", ())]
    assert any("restore-cluster-state.sh" in line for line in found.describe())


def test_k3s_drs_own_unit_and_lookalike_names_are_not_the_seeds() -> None:
    ours = "# Managed by k3s-dr 0.1.0 (auto-restore at boot).\n[Service]\nExecStart=/opt/k3s-dr/bin/k3s-dr restore\n"
    assert scan_units({"k3s-auto-restore.service": ours}) == []
    assert scan_units({"x.service": "[Service]\nExecStart=/usr/bin/my-backup-cluster-state.sh.bak\n"}) == []
    assert scan_cron({"/etc/crontab": "# 0 * * * * /x/backup-cluster-state.sh\n"}, {}) == []  # already commented


def test_migrate_disables_moves_comments_and_records_then_undo_puts_everything_back(tmp_path: Path) -> None:
    before = seed_host(tmp_path)
    root = Root(tmp_path)
    fake = FakeSystemctl({"k3s-auto-restore.service": ("enabled", "inactive"),
                          "k3s-backup.timer": ("enabled", "active"), "k3s-backup.service": ("static", "inactive")})
    done = migrate_host(config(tmp_path), read_candidates(root), dry_run=False, root=root, run=fake)
    assert done.record is not None
    # timers first, so nothing starts a service being moved; only what was enabled or running is disabled
    assert fake.calls == [("disable", "--now", "k3s-backup.timer"), ("disable", "--now", "k3s-auto-restore.service"),
                          ("daemon-reload",)]
    for unit in ("k3s-auto-restore.service", "k3s-backup.service", "k3s-backup.timer"):
        assert not (tmp_path / "etc/systemd/system" / unit).exists()
    assert (tmp_path / "etc/systemd/system/nginx.service").read_text() == OTHER_UNIT
    crontab = (tmp_path / "var/spool/cron/crontabs/root").read_text().splitlines()
    assert crontab[1].startswith(COMMENT) and crontab[2] == "0 3 * * * /usr/bin/certbot renew"
    assert (tmp_path / "var/spool/cron/crontabs/root").stat().st_mode & 0o777 == 0o600  # mode kept
    assert not (tmp_path / "etc/cron.hourly/k3s-backup").exists()
    for n in (1, 2):
        assert (tmp_path / f"var/backups/k3s-cluster/k3s-cluster-backup-{n}.tar.gz").stat().st_mode & 0o777 == 0o600
    record_path, record = newest_record(root, "/var/lib/k3s-dr") or ("", {})
    assert record_path == done.record and record_path.startswith("/var/lib/k3s-dr/migrated/")
    kinds = [c["kind"] for c in record["changes"]]
    assert kinds == ["unit", "unit", "unit", "cron-lines", "cron-lines", "file", "mode", "mode"]
    saved = next(c["saved"] for c in record["changes"] if c["path"].endswith("k3s-auto-restore.service"))
    assert root(saved).read_text() == SEED_RESTORE_UNIT  # kept, never deleted
    assert (tmp_path / "var/lib/k3s-dr/migrated").stat().st_mode & 0o077 == 0

    undo_fake = FakeSystemctl({})
    undone = undo_migration(config(tmp_path), dry_run=False, root=root, run=undo_fake)
    assert undone.undo and undone.record == record_path
    assert ("enable", "k3s-backup.timer") in undo_fake.calls and ("start", "k3s-backup.timer") in undo_fake.calls
    assert ("enable", "k3s-auto-restore.service") in undo_fake.calls
    assert ("start", "k3s-auto-restore.service") not in undo_fake.calls  # it was not running
    for relative, content in before.items():
        assert (tmp_path / relative).read_bytes() == content, relative
    assert (tmp_path / "var/backups/k3s-cluster/k3s-cluster-backup-1.tar.gz").stat().st_mode & 0o777 == 0o644
    assert json.loads(root(record_path).read_text())["undone"]
    assert newest_record(root, "/var/lib/k3s-dr") is None
    with pytest.raises(UsageError, match="no migration to undo"):
        undo_migration(config(tmp_path), dry_run=False, root=root, run=undo_fake)


def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    before = seed_host(tmp_path)
    root = Root(tmp_path)
    fake = FakeSystemctl({"k3s-backup.timer": ("enabled", "active")})
    shown = migrate_host(config(tmp_path), read_candidates(root), dry_run=True, root=root, run=fake)
    assert len(shown.changes) == 8 and shown.record is None and fake.calls == []
    assert any(text.startswith("disable and move /etc/systemd/system/k3s-backup.timer") for text in shown.texts())
    for relative, content in before.items():
        assert (tmp_path / relative).read_bytes() == content


def test_a_migration_stopped_half_way_records_what_it_changed_and_undo_reverses_exactly_that(tmp_path: Path) -> None:
    before = seed_host(tmp_path)
    root = Root(tmp_path)
    fake = FakeSystemctl({"k3s-auto-restore.service": ("enabled", "inactive"),
                          "k3s-backup.timer": ("enabled", "active")},
                         fail_on=("disable", "--now", "k3s-auto-restore.service"))
    with pytest.raises(EnvironmentProblem, match="told to fail"):
        migrate_host(config(tmp_path), read_candidates(root), dry_run=False, root=root, run=fake)
    _path, record = newest_record(root, "/var/lib/k3s-dr") or ("", {})
    assert [c["path"] for c in record["changes"]] == ["/etc/systemd/system/k3s-backup.timer"]
    assert (tmp_path / "etc/systemd/system/k3s-auto-restore.service").exists()  # not reached: untouched
    undo_migration(config(tmp_path), dry_run=False, root=root, run=FakeSystemctl({}))
    for relative, content in before.items():
        assert (tmp_path / relative).read_bytes() == content, relative


def test_undo_never_overwrites_a_file_put_back_meanwhile(tmp_path: Path) -> None:
    seed_host(tmp_path)
    root = Root(tmp_path)
    migrate_host(config(tmp_path), read_candidates(root), dry_run=False, root=root, run=FakeSystemctl({}))
    (tmp_path / "etc/cron.hourly/k3s-backup").write_text("someone's new script\n")
    with pytest.raises(UsageError, match=r"/etc/cron\.hourly/k3s-backup exists"):
        undo_migration(config(tmp_path), dry_run=False, root=root, run=FakeSystemctl({}))
    assert (tmp_path / "etc/cron.hourly/k3s-backup").read_text() == "someone's new script\n"


def test_nothing_to_migrate_writes_no_record(tmp_path: Path) -> None:
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    root = Root(tmp_path)
    done = migrate_host(config(tmp_path), read_candidates(root), dry_run=False, root=root, run=FakeSystemctl({}))
    assert done.changes == () and done.record is None
    assert not os.path.exists(tmp_path / "var/lib/k3s-dr/migrated")
