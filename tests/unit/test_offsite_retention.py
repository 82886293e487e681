"""Remote retention applies the local rotation rules to good copies only (pure; fake copies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dr_lib.archive import format as fmt
from dr_lib.archive.rotation import ArchiveRecord, RotationPolicy, plan_rotation
from dr_lib.config import OffsiteTargetConfig
from dr_lib.offsite.model import GOOD, INCOMPLETE, CopyRecord, RemoteCopy
from dr_lib.offsite.pull import choose_copy
from dr_lib.offsite.push import plan_retention

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fake_copy(hours_ago: float, state: str = GOOD) -> RemoteCopy:
    name = fmt.archive_name(NOW - timedelta(hours=hours_ago))
    record = CopyRecord(name, name + ".age", "0" * 64, 10, "1" * 64, 9, 3, {"scheme": "age-x25519"}, "t")
    return RemoteCopy("t", name, f"k3s-dr/{name}.age", 10, state, record if state == GOOD else None)


def test_same_decisions_as_local_rotation() -> None:
    copies = [fake_copy(h) for h in range(0, 72, 3)]
    config = OffsiteTargetConfig(keep=4, keep_daily=2, keep_weekly=1)
    doomed = {c.archive for c in plan_retention(copies, config, now=NOW, protect=None)}
    local = plan_rotation([ArchiveRecord(c.archive, c.created or NOW, True) for c in copies],
                          RotationPolicy(4, 2, 1), now=NOW)
    assert doomed == set(local.delete)
    assert doomed and len(copies) - len(doomed) == len(local.keep)


def test_incomplete_copies_are_never_counted_kept_or_rotated() -> None:
    good = [fake_copy(h) for h in (1, 2, 3)]
    partial = fake_copy(0, INCOMPLETE)
    doomed = plan_retention([partial, *good], OffsiteTargetConfig(keep=1, keep_daily=0, keep_weekly=0), now=NOW,
                            protect=None)
    assert [c.archive for c in doomed] == [good[1].archive, good[2].archive]  # the newest GOOD one stays


def test_the_copy_just_pushed_is_protected_even_if_older() -> None:
    copies = [fake_copy(h) for h in (1, 2, 30)]
    doomed = plan_retention(copies, OffsiteTargetConfig(keep=1, keep_daily=0, keep_weekly=0), now=NOW,
                            protect=copies[2].archive)
    assert [c.archive for c in doomed] == [copies[1].archive]


def test_pull_chooses_only_good_copies() -> None:
    partial = fake_copy(0, INCOMPLETE)
    older = fake_copy(5)
    assert choose_copy([partial, older], None, "t") == older
    assert choose_copy([partial, older], older.archive + ".age", "t") == older
