"""Rotation is pure: exact decisions for archives, policy and a fixed 'now'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dr_lib.backup.guard import PromotedCounts, manifest_shrink_reason, shrink_reason
from dr_lib.backup.rotation import ArchiveRecord, RotationPolicy, plan_rotation

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday


def hourly(count: int, *, verified: bool = True, start: datetime = NOW) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"a{i:03d}", start - timedelta(hours=i), verified) for i in range(count)]


def names(count: int) -> list[str]:
    return [f"a{i:03d}" for i in range(count)]


def test_keep_newest_n_like_the_seed() -> None:
    plan = plan_rotation(hourly(5), RotationPolicy(keep=2), now=NOW)
    assert plan.keep == ["a000", "a001"]
    assert plan.delete == ["a002", "a003", "a004"]
    assert plan.decisions[0].reasons == ("newest 2", "newest verified")


def test_input_order_does_not_matter() -> None:
    archives = hourly(6)
    assert plan_rotation(reversed(archives), RotationPolicy(keep=3), now=NOW) == \
        plan_rotation(archives, RotationPolicy(keep=3), now=NOW)


def test_the_newest_verified_archive_is_never_deleted() -> None:
    archives = [ArchiveRecord("new-unverified-1", NOW, False),
                ArchiveRecord("new-unverified-2", NOW - timedelta(1), False),
                ArchiveRecord("old-verified", NOW - timedelta(days=3), True),
                ArchiveRecord("older-verified", NOW - timedelta(days=4), True)]
    plan = plan_rotation(archives, RotationPolicy(keep=1), now=NOW)
    assert plan.keep == ["new-unverified-1", "old-verified"]
    assert dict((d.name, d.reasons) for d in plan.decisions)["old-verified"] == ("newest verified",)


def test_protected_archives_stay_with_their_reason() -> None:
    protected = {"a004": "linked by latest-backup.tar.gz", "gone": "ignored"}
    plan = plan_rotation(hourly(5), RotationPolicy(keep=1), now=NOW, protected=protected)
    assert plan.keep == ["a000", "a004"]
    assert plan.decisions[-1].reasons == ("linked by latest-backup.tar.gz",)


def test_daily_tier_keeps_one_per_day_for_the_last_days_that_have_archives() -> None:
    archives = hourly(24 * 5)  # 5 days of hourly archives, the newest at 12:00 today
    plan = plan_rotation(archives, RotationPolicy(keep=2, keep_daily=3), now=NOW)
    daily = {d.name: d.reasons for d in plan.decisions if any(r.startswith("daily") for r in d.reasons)}
    # today's newest is a000 (12:00); yesterday's newest is 23:00 = a013; the day before, a037
    assert daily == {"a000": ("newest 2", "daily 2026-11-28", "newest verified"),
                     "a013": ("daily 2026-11-27",), "a037": ("daily 2026-11-26",)}
    assert plan.keep == ["a000", "a001", "a013", "a037"]


def test_daily_tier_prefers_a_verified_archive_of_that_day() -> None:
    archives = [ArchiveRecord("d1-late-unverified", NOW - timedelta(days=1, hours=1), False),
                ArchiveRecord("d1-early-verified", NOW - timedelta(days=1, hours=5), True),
                ArchiveRecord("today", NOW, True)]
    plan = plan_rotation(archives, RotationPolicy(keep=1, keep_daily=2), now=NOW)
    assert plan.keep == ["today", "d1-early-verified"]


def test_days_count_only_days_with_archives_so_a_stopped_backup_keeps_its_history() -> None:
    start = NOW - timedelta(days=30)  # backups stopped a month ago
    plan = plan_rotation(hourly(24 * 4, start=start), RotationPolicy(keep=1, keep_daily=3), now=NOW)
    assert len(plan.keep) == 3


def test_weekly_tier_uses_iso_weeks() -> None:
    archives = [ArchiveRecord(f"w{i}", NOW - timedelta(days=i), True) for i in range(0, 30)]
    plan = plan_rotation(archives, RotationPolicy(keep=1, keep_weekly=3), now=NOW)
    weekly = sorted(r for d in plan.decisions for r in d.reasons if r.startswith("weekly"))
    assert weekly == ["weekly 2026-W46", "weekly 2026-W47", "weekly 2026-W48"]
    # newest of ISO week 47 (Mon 16 – Sun 22 Nov) is Sunday the 22nd, six days before NOW
    assert "weekly 2026-W47" in dict((d.name, d.reasons) for d in plan.decisions)["w6"]


def test_archives_from_the_future_are_kept() -> None:
    archives = [ArchiveRecord("future", NOW + timedelta(hours=5), True), *hourly(3)]
    plan = plan_rotation(archives, RotationPolicy(keep=1), now=NOW)
    assert plan.keep == ["future"]
    assert "dated in the future (clock set back?)" in plan.decisions[0].reasons


def test_no_archives_no_decisions() -> None:
    assert plan_rotation([], RotationPolicy(keep=2, keep_daily=7, keep_weekly=4), now=NOW).decisions == ()


@pytest.mark.parametrize(("previous", "current", "threshold", "blocked"), [
    (None, 0, 0.5, False),       # first backup: nothing to compare with
    (0, 0, 0.5, False),
    (1000, 1000, 0.5, False),
    (1000, 1200, 0.5, False),    # growth never blocks
    (1000, 501, 0.5, False),     # 49.9% drop
    (1000, 500, 0.5, True),      # exactly the threshold blocks
    (1000, 10, 0.5, True),       # a wiped cluster
    (1000, 999, 0.0, True),      # threshold 0: any drop blocks
    (1000, 1000, 0.0, False),
    (1000, 1, 1.0, False),       # threshold 1: only an empty backup blocks
    (1000, 0, 1.0, True),
])
def test_shrink_guard(previous: int | None, current: int, threshold: float, blocked: bool) -> None:
    reason = shrink_reason(previous, current, threshold)
    assert (reason is not None) == blocked
    if reason:
        assert f"from {previous} to {current}" in reason


# Fake manifests: the guard reads only ``objects`` and ``user_objects``, as a Manifest exposes them.
WIPED_K3S = PromotedCounts(objects=137, user_objects=0)  # the built-in objects an emptied k3s keeps
BEFORE_WIPE = PromotedCounts(objects=165, user_objects=28)


def test_shrink_guard_compares_user_objects_when_both_archives_count_them() -> None:
    reason = manifest_shrink_reason(BEFORE_WIPE, WIPED_K3S, 0.5)  # 17% of all objects, 100% of the user's
    assert reason is not None and reason.startswith("user objects dropped from 28 to 0 (100%)")
    assert manifest_shrink_reason(BEFORE_WIPE, PromotedCounts(150, 20), 0.5) is None  # 29% of user objects
    assert manifest_shrink_reason(WIPED_K3S, BEFORE_WIPE, 0.5) is None


@pytest.mark.parametrize("previous, current", [
    (PromotedCounts(165, None), WIPED_K3S),  # promoted archive from before the count
    (BEFORE_WIPE, PromotedCounts(137, None)),
])
def test_shrink_guard_falls_back_to_all_objects(previous: PromotedCounts, current: PromotedCounts) -> None:
    assert manifest_shrink_reason(previous, current, 0.5) is None  # 17%: the old blind spot, by design
    reason = manifest_shrink_reason(previous, current, 0.1)
    assert reason is not None and reason.startswith("objects dropped from 165 to 137")


def test_shrink_guard_without_a_promoted_archive() -> None:
    assert manifest_shrink_reason(None, WIPED_K3S, 0.5) is None
