"""Pure rotation: which archives to keep and why (no I/O; time and state passed in).

One set of rules for the local backup directory (dr_lib.backup) and the offsite targets
(dr_lib.offsite), so a remote keeps exactly what the same policy would keep locally.

Kept, each with its reasons:
* the newest ``keep`` archives;
* ``keep_daily``: for each of the last N days that have archives, that day's newest
  *verified* archive (its newest archive when none is verified) — as restic counts days, so
  old archives survive when backups stop, which is when they are needed;
* ``keep_weekly``: the same per ISO week;
* the newest verified archive, always (what the links should point at);
* every archive a link points at (deleting it would leave the link dangling), and every other
  protected archive the caller names;
* the newest archive holding user objects (the newest *verified* one when any is verified): after
  a wipe, backups of the empty cluster are kept but not promoted, and however many of them
  ``keep`` counts, the last archive that can bring the cluster back stays;
* archives dated after ``now``: a clock set back must not make us delete the newest backups.
Everything else is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ArchiveRecord:
    name: str
    created: datetime  # aware, UTC
    verified: bool
    user_objects: int | None = None  # None: not known (remote copies, unreadable archives)
    links: tuple[str, ...] = ()  # names of the links that point at it


@dataclass(frozen=True)
class RotationPolicy:
    keep: int
    keep_daily: int = 0
    keep_weekly: int = 0


@dataclass(frozen=True)
class Decision:
    name: str
    keep: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RotationPlan:
    decisions: tuple[Decision, ...]  # newest first

    @property
    def delete(self) -> list[str]:
        return [d.name for d in self.decisions if not d.keep]

    @property
    def keep(self) -> list[str]:
        return [d.name for d in self.decisions if d.keep]


def _tier(archives: Sequence[ArchiveRecord], count: int, bucket: Callable[[datetime], str],
          label: str) -> dict[str, str]:
    """The pick of each of the newest ``count`` buckets (days, weeks) that hold archives."""
    picks: dict[str, str] = {}
    seen: dict[str, ArchiveRecord] = {}
    for record in archives:  # newest first
        key = bucket(record.created)
        if key not in seen:
            if len(seen) == count:
                continue
            seen[key] = record
        elif record.verified and not seen[key].verified:
            seen[key] = record
    for key, record in seen.items():
        picks[record.name] = f"{label} {key}"
    return picks


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def newest_with_user_objects(archives: Iterable[ArchiveRecord]) -> ArchiveRecord | None:
    """The archive that can bring a wiped cluster back: the newest *verified* one holding user objects, else
    the newest holding any (rotation keeps it; ``k3s-dr fix`` points the links only at a verified one)."""
    ordered = sorted(archives, key=lambda r: (r.created, r.name), reverse=True)
    holding = [r for r in ordered if r.user_objects]
    return next((r for r in holding if r.verified), holding[0] if holding else None)


def plan_rotation(archives: Iterable[ArchiveRecord], policy: RotationPolicy, *, now: datetime,
                  protected: Mapping[str, str] | None = None) -> RotationPlan:
    """Decide for every archive; ``protected`` maps archive names to why they must stay."""
    ordered = sorted(archives, key=lambda r: (r.created, r.name), reverse=True)
    reasons: dict[str, list[str]] = {r.name: [] for r in ordered}
    for record in ordered[:max(policy.keep, 0)]:
        reasons[record.name].append(f"newest {policy.keep}")
    for tier in (_tier(ordered, policy.keep_daily, _day, "daily"), _tier(ordered, policy.keep_weekly, _week, "weekly")):
        for name, why in tier.items():
            reasons[name].append(why)
    newest_verified = next((r for r in ordered if r.verified), None)
    if newest_verified is not None:
        reasons[newest_verified.name].append("newest verified")
    for record in ordered:
        reasons[record.name] += [f"linked by {link}" for link in record.links]
    last_good = newest_with_user_objects(ordered)
    if last_good is not None:
        reasons[last_good.name].append("newest with user objects")
    for name, why in (protected or {}).items():
        if name in reasons:
            reasons[name].append(why)
    for record in ordered:
        if record.created > now:
            reasons[record.name].append("dated in the future (clock set back?)")
    return RotationPlan(tuple(Decision(r.name, bool(reasons[r.name]), tuple(reasons[r.name])) for r in ordered))
