"""Pure shrink guard: a backup of a wiped cluster must not replace the last good one.

If the new archive holds far fewer objects than the archive the links point at, it is kept
(it may be the truth: someone deleted a namespace on purpose) but not promoted; the operator
confirms with ``--allow-shrink``.
"""

from __future__ import annotations


def shrink_reason(previous: int | None, current: int, threshold: float) -> str | None:
    """Why promotion is blocked, or None. ``threshold`` is the blocking drop (0.5 = half the objects)."""
    if previous is None or previous <= 0 or current >= previous:
        return None
    drop = (previous - current) / previous
    if drop < threshold:
        return None
    return (f"object count dropped from {previous} to {current} ({drop:.0%}) against the promoted archive, "
            f"at or above backup.shrink_threshold {threshold:.0%}")
