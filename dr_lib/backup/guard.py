"""Pure shrink guard: a backup of a wiped cluster must not replace the last good one.

If the new archive holds far fewer objects than the archive the links point at, it is kept
(it may be the truth: someone deleted a namespace on purpose) but not promoted; the operator
confirms with ``--allow-shrink``. It compares *user* objects (dr_lib.archive.userobjects) when
both manifests count them: an emptied k3s still has ~140 built-in objects, so the total hides
the loss of every user object. Archives written before the count fall back to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ObjectCounts(Protocol):
    """What the guard reads of an archive (a :class:`~dr_lib.archive.manifest.Manifest` has it)."""

    @property
    def objects(self) -> int: ...

    @property
    def user_objects(self) -> int | None: ...


@dataclass(frozen=True)
class PromotedCounts:
    """The counts when only the total is known (an archive whose manifest cannot be read now)."""

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


def manifest_shrink_reason(previous: ObjectCounts | None, current: ObjectCounts, threshold: float) -> str | None:
    """:func:`shrink_reason` on user objects when both archives count them, else on all objects."""
    if previous is None:
        return None
    if previous.user_objects is not None and current.user_objects is not None:
        return shrink_reason(previous.user_objects, current.user_objects, threshold, counted="user objects")
    return shrink_reason(previous.objects, current.objects, threshold)
