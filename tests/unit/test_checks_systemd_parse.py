"""Parsing what systemd prints (`systemctl show`, `systemctl cat`), with text captured from systemd 252."""

from __future__ import annotations

import pytest

from dr_lib.checks.units import (
    HostClock,
    PathCondition,
    exec_argvs,
    exec_paths,
    parse_conditions,
    parse_show,
    parse_units,
    timespan_seconds,
)

SHOW = """\
Result=success
ExecMainStartTimestampMonotonic=757940360
ExecMainStatus=0
ExecStart={ path=/usr/local/bin/k3s-dr ; argv[]=/usr/local/bin/k3s-dr --config /etc/k3s-dr/config.yaml backup ; \
ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
Id=k3s-dr-backup.service
Wants=
After=sysinit.target k3s.service
LoadState=loaded
ActiveState=inactive
SubState=dead
FragmentPath=/usr/local/lib/systemd/system/k3s-dr-backup.service
DropInPaths=
UnitFileState=static
NeedDaemonReload=yes
ConditionResult=yes
ConditionTimestampMonotonic=757924599

TimersMonotonic={ OnUnitActiveUSec=1h ; next_elapse=0 }
TimersMonotonic={ OnBootUSec=5min ; next_elapse=14min 42.699707s }
LastTriggerUSecMonotonic=0
Result=success
Id=k3s-dr-backup.timer
LoadState=loaded
ActiveState=active
SubState=waiting
UnitFileState=enabled
NeedDaemonReload=no

Id=nonexist.service
LoadState=not-found
UnitFileState=
ConditionTimestampMonotonic=0
"""


def test_blocks_follow_the_units_asked_for() -> None:
    clock = HostClock(now=1_000_000.0, monotonic=800.0)
    units = parse_units(SHOW, ["k3s-dr-backup.service", "k3s-dr-backup.timer", "nonexist.service"], clock)
    backup = units["k3s-dr-backup.service"]
    assert backup.loaded and backup.need_daemon_reload
    assert backup.exec_paths == ("/usr/local/bin/k3s-dr",)
    assert backup.exec_argv[0][-1] == "backup"
    assert backup.exec_main_start == pytest.approx(1_000_000.0 - (800.0 - 757.940360))
    assert backup.after == ("sysinit.target", "k3s.service")
    timer = units["k3s-dr-backup.timer"]
    assert timer.timer_intervals == (("OnUnitActive", 3600.0), ("OnBoot", 300.0))
    assert timer.last_trigger is None  # 0 means never
    missing = units["nonexist.service"]
    assert not missing.loaded and missing.condition_time is None


def test_block_count_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="3 blocks for 2 units"):
        parse_units(SHOW, ["a.service", "b.service"], HostClock(0.0, 0.0))


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h", 3600), ("5min", 300), ("1h 30min", 5400), ("45s", 45), ("100ms", 0.1), ("2d", 172800), ("1w", 604800),
])
def test_timespans(text: str, seconds: float) -> None:
    assert timespan_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "1h later"])
def test_timespans_refused(text: str) -> None:
    assert timespan_seconds(text) is None


def test_exec_lines_of_several_commands() -> None:
    values = ["{ path=/bin/a ; argv[]=/bin/a x ; ignore_errors=no }", "{ path=/bin/b ; argv[]=/bin/b ; x=1 }"]
    assert exec_paths(values) == ("/bin/a", "/bin/b")
    assert exec_argvs(values) == (("/bin/a", "x"), ("/bin/b",))


def test_conditions_with_drop_ins_reset_negation_and_triggers() -> None:
    cat = """\
# /usr/local/lib/systemd/system/k3s-auto-restore.service
[Unit]
ConditionPathExists=/old/path
# /etc/systemd/system/k3s-auto-restore.service.d/override.conf
[Unit]
ConditionPathExists=
ConditionPathExists=/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz
ConditionPathExists=!/run/k3s-dr/no-restore
ConditionPathExists=|/a
ConditionVirtualization=!container
; ConditionPathExists=/commented
"""
    paths, others = parse_conditions(cat)
    assert paths == (
        PathCondition("/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"),
        PathCondition("/run/k3s-dr/no-restore", negated=True),
        PathCondition("/a", triggering=True),
    )
    assert others == ("ConditionVirtualization=!container",)


def test_show_output_without_trailing_blank_line() -> None:
    assert parse_show("Id=a\n\nId=b") == [{"Id": ["a"]}, {"Id": ["b"]}]
