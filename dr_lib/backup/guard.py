"""Pure shrink guard: a backup of a wiped cluster must not replace the last good one.

If the new archive holds far fewer user objects than the archive the links point at, it is kept
(it may be the truth: someone deleted a namespace on purpose) but not promoted; the operator
confirms with ``--allow-shrink``. User objects are counted by one rule set
(:mod:`dr_lib.archive.userobjects`): an emptied k3s still has ~140 objects of its own (bootstrap
RBAC, its add-ons, default service accounts…), which would hide the loss of every user object in
a total. A backup holding no user objects never replaces one that holds some, whatever
``backup.shrink_threshold`` says. Only when the promoted archive cannot be read are totals compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ObjectCounts(Protocol):
    """What the guard reads of an archive."""

    @property
    def objects(self) -> int: ...

    @property
    def user_objects(self) -> int | None: ...


@dataclass(frozen=True)
class PromotedCounts:
    """The counts of one archive; ``user_objects`` None when they cannot be known (an unreadable archive)."""

    objects: int
    user_objects: int | None = None


def shrink_reason(previous: int | None, current: int, threshold: float, *, counted: str = "objects") -> str | None:
    """Why promotion is blocked, or None. ``threshold`` is the blocking drop (0.5 = half the objects)."""
    if previous is None or previous <= 0 or current >= previous:
        return None
    drop = (previous - current) / previous
    if drop < threshold:
        return None
    return (f"{counted} dropped from {previous} to {current} ({drop:.0%}) against the promoted archive, "
            f"at or above backup.shrink_threshold {threshold:.0%}")


def wipe_reason(previous: int, current: int) -> str | None:
    """A backup without user objects after one with them: never promoted automatically, whatever the threshold."""
    if current > 0 or previous <= 0:
        return None
    return (f"user objects dropped from {previous} to 0 (100%) against the promoted archive: a backup without "
            "user objects (a wiped cluster?) never replaces one with them, whatever backup.shrink_threshold")


def manifest_shrink_reason(previous: ObjectCounts | None, current: ObjectCounts, threshold: float) -> str | None:
    """:func:`wipe_reason`, then :func:`shrink_reason` on user objects; on all objects only when either
    archive's user objects are unknown."""
    if previous is None:
        return None
    if previous.user_objects is not None and current.user_objects is not None:
        return (wipe_reason(previous.user_objects, current.user_objects)
                or shrink_reason(previous.user_objects, current.user_objects, threshold, counted="user objects"))
    return shrink_reason(previous.objects, current.objects, threshold)
