"""systemd facts for the metrics: the next timer run and whether the auto-restore unit would fire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dr_lib.checks.units import PathCondition
from dr_lib.metrics.systemd import next_elapse, query, readiness

NOW = datetime(2026, 11, 28, 18, 46, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("realtime", "monotonic", "now_mono", "expected"), [
    # shapes seen on Debian 12's systemd 252 (TZ=UTC)
    ("Sat 2026-11-28 19:00:00 UTC", "0", 100.0, NOW + 14 * 60),
    ("", "1h 31min 42.367413s", 1908.57, NOW + 5502.367413 - 1908.57),  # OnBootSec/OnUnitActiveSec timer
    ("Sat 2026-11-28 19:00:00 UTC", "1h 31min 42.367413s", 1908.57, NOW + 14 * 60),  # the earlier one
    ("", "0", 100.0, None),  # nothing scheduled (timer inactive)
    ("", "", 100.0, None),
    ("Sat 2026-11-28 19:00:00 CET", "0", 100.0, None),  # not UTC: refuse to guess the zone
    ("n/a", "n/a", 100.0, None),
])
def test_next_elapse(realtime, monotonic, now_mono, expected):
    got = next_elapse(realtime, monotonic, NOW, now_mono)
    assert got == (pytest.approx(expected) if expected is not None else None)


LINK = "/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"


@pytest.mark.parametrize(("load", "file_state", "conditions", "present", "fire", "unmet"), [
    ("loaded", "enabled", [PathCondition(LINK)], {LINK}, True, 0),
    ("loaded", "enabled", [PathCondition(LINK)], set(), False, 1),  # the seed: the link never existed
    ("loaded", "disabled", [PathCondition(LINK)], {LINK}, False, 0),  # the seed: not enabled
    ("masked", "masked", [PathCondition(LINK)], {LINK}, False, 0),
    ("not-found", "", [], set(), False, 0),
    ("loaded", "enabled", [], set(), True, 0),  # no condition: fires at every boot
    ("loaded", "enabled", [PathCondition("/run/k3s-dr.off", negated=True)], set(), True, 0),
    ("loaded", "enabled", [PathCondition("/run/k3s-dr.off", negated=True)], {"/run/k3s-dr.off"}, False, 1),
    ("loaded", "enabled", [PathCondition("/a", triggering=True), PathCondition("/b", triggering=True)], {"/b"},
     True, 0),
    ("loaded", "enabled", [PathCondition("/a", triggering=True), PathCondition("/b", triggering=True)], set(),
     False, 1),
])
def test_readiness(load, file_state, conditions, present, fire, unmet):
    ready = readiness(load, file_state, conditions, lambda path: path in present)
    assert ready.would_fire is fire
    assert len(ready.unmet) == unmet


class FakeSystemctl:
    """A fake runner answering like systemctl 252 (captured output), recording the commands it got."""

    def __init__(self, show: str, cat: str = "", status: int = 0) -> None:
        self.show, self.cat, self.status = show, cat, status
        self.commands: list[list[str]] = []

    def __call__(self, argv):
        self.commands.append(list(argv))
        if argv[1] == "show":
            return self.status, self.show
        return 0, self.cat


SHOW = ("NextElapseUSecRealtime=\nNextElapseUSecMonotonic=1h 31min 42.367413s\nLoadState=loaded\n"
        "UnitFileState=enabled\n\n"
        "NextElapseUSecRealtime=\nNextElapseUSecMonotonic=0\nLoadState=loaded\nUnitFileState=enabled\n")
CAT = f"# /etc/systemd/system/k3s-auto-restore.service\n[Unit]\nConditionPathExists={LINK}\n"


def test_query_reads_the_timer_and_the_unit():
    fake = FakeSystemctl(SHOW, CAT)
    facts = query("k3s-dr-backup.timer", "k3s-auto-restore.service", NOW, 1908.57, exists={LINK}.__contains__,
                  run=fake)
    assert facts.problem == ""
    assert facts.next_backup_at == pytest.approx(NOW + 5502.367413 - 1908.57)
    assert facts.auto_restore.would_fire
    assert fake.commands[0][-2:] == ["k3s-dr-backup.timer", "k3s-auto-restore.service"]
    assert fake.commands[1] == ["systemctl", "cat", "--", "k3s-auto-restore.service"]


def test_query_reports_a_failing_systemctl_as_a_problem():
    facts = query("t.timer", "u.service", NOW, 1.0, run=FakeSystemctl("", status=1))
    assert "failed (exit 1)" in facts.problem
    assert not facts.auto_restore.would_fire
