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
    (PromotedCounts(165, None), WIPED_K3S),  # the promoted archive could not be read: only its total is known
    (BEFORE_WIPE, PromotedCounts(137, None)),
])
def test_shrink_guard_falls_back_to_all_objects(previous: PromotedCounts, current: PromotedCounts) -> None:
    assert manifest_shrink_reason(previous, current, 0.5) is None  # 17% of all objects
    reason = manifest_shrink_reason(previous, current, 0.1)
    assert reason is not None and reason.startswith("objects dropped from 165 to 137")


@pytest.mark.parametrize(("previous", "current", "threshold", "blocked"), [
    (28, 0, 0.5, True),
    (28, 0, 1.0, True),
    (1, 0, 1.0, True),     # one user object left, then none: still a wipe
    (28, 0, 0.0, True),
    (28, 1, 1.0, False),   # not a wipe; the threshold decides (97% < 100%)
    (28, 14, 0.5, True),   # the threshold, as before
    (28, 15, 0.5, False),
    (0, 0, 0.5, False),    # an empty cluster backed up again: nothing lost
    (0, 5, 0.5, False),
])
def test_a_wipe_is_never_promoted_whatever_the_threshold(previous: int, current: int, threshold: float,
                                                         blocked: bool) -> None:
    reason = manifest_shrink_reason(PromotedCounts(200, previous), PromotedCounts(180, current), threshold)
    assert (reason is not None) == blocked, reason
    if blocked and current == 0:
        assert reason is not None and f"dropped from {previous} to 0 (100%)" in reason
        assert "never replaces" in reason


def test_shrink_guard_without_a_promoted_archive() -> None:
    assert manifest_shrink_reason(None, WIPED_K3S, 0.5) is None


def _archive(name: str, hours_ago: int, *, verified: bool = True, user: int | None = 0,
             links: tuple[str, ...] = ()) -> ArchiveRecord:
    return ArchiveRecord(name, NOW - timedelta(hours=hours_ago), verified, user, links)


LINKS = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")

# (case, archives newest first, policy, kept, the reason the guarantee gives)
GUARANTEES: list[tuple[str, list[ArchiveRecord], RotationPolicy, list[str], dict[str, str]]] = [
    ("the wipe: two backups of the empty cluster after the good one, keep 2",
     [_archive("wiped-2", 0), _archive("wiped-1", 1), _archive("good", 2, user=28, links=LINKS)],
     RotationPolicy(keep=2), ["wiped-2", "wiped-1", "good"],
     {"good": "linked by k3s-cluster-snapshot.tar.gz"}),
    ("many wiped backups and keep 1: the good archive stays",
     [_archive(f"wiped-{i}", i) for i in range(6)] + [_archive("good", 9, user=5, links=LINKS)],
     RotationPolicy(keep=1), ["wiped-0", "good"], {"good": "newest with user objects"}),
    ("links moved away (--allow-shrink): the last archive with user objects still stays",
     [_archive("empty", 0, links=LINKS), _archive("older-empty", 1), _archive("good", 2, user=5)],
     RotationPolicy(keep=1), ["empty", "good"], {"good": "newest with user objects", "empty": "linked by"}),
    ("only the newest archive with user objects, not every one",
     [_archive("u3", 0, user=3), _archive("u2", 1, user=2), _archive("u1", 2, user=1)],
     RotationPolicy(keep=1), ["u3"], {"u3": "newest with user objects"}),
    ("a newer unverified archive with user objects does not displace the verified one",
     [_archive("new-unverified", 0, verified=False, user=9), _archive("wiped", 1), _archive("good", 2, user=5)],
     RotationPolicy(keep=1), ["new-unverified", "wiped", "good"], {"good": "newest with user objects"}),
    ("no verified archive with user objects: the newest unverified one stays",
     [_archive("wiped", 0), _archive("unverified", 1, verified=False, user=4), _archive("older", 2, user=3,
                                                                                          verified=False)],
     RotationPolicy(keep=1), ["wiped", "unverified"], {"unverified": "newest with user objects"}),
    ("unknown counts (remote copies, unreadable archives) change nothing",
     [_archive("a", 0, user=None), _archive("b", 1, user=None), _archive("c", 2, user=None)],
     RotationPolicy(keep=1), ["a"], {}),
    ("a link to an archive keep would drop, with no user objects anywhere",
     [_archive("n0", 0), _archive("n1", 1), _archive("n2", 2, links=("latest-backup.tar.gz",))],
     RotationPolicy(keep=1), ["n0", "n2"], {"n2": "linked by latest-backup.tar.gz"}),
]


@pytest.mark.parametrize(("archives", "policy", "kept", "why"), [g[1:] for g in GUARANTEES],
                         ids=[g[0] for g in GUARANTEES])
def test_rotation_never_deletes_the_linked_archive_nor_the_last_with_user_objects(
        archives: list[ArchiveRecord], policy: RotationPolicy, kept: list[str], why: dict[str, str]) -> None:
    plan = plan_rotation(archives, policy, now=NOW)
    assert plan.keep == kept
    reasons = {d.name: " / ".join(d.reasons) for d in plan.decisions}
    for name, reason in why.items():
        assert reason in reasons[name], reasons[name]
