"""Finding and removing mounts under a directory (image build roots, a real node's state).

rmtree must never walk into a mount (a bind of the real /sys, a pod volume), so callers
unmount everything under a directory first and delete it only when nothing remains.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from dataclasses import dataclass
from pathlib import Path

MNT_DETACH = 2  # lazy: detach now, free when no longer busy
_MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class UnmountResult:
    unmounted: tuple[str, ...]
    remaining: tuple[str, ...]
    errors: tuple[str, ...] = ()


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(mountinfo: str, root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest (and latest) first: the order to unmount them."""
    base = str(root).rstrip("/") or "/"
    found: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = _unescape(fields[4])
        if point == base or point.startswith(base + "/"):
            found.append(point)
    ordered = list(reversed(found))  # later mounts stack on earlier ones
    return sorted(ordered, key=lambda p: p.count("/"), reverse=True)


def current_mounts_under(root: Path) -> list[str]:
    return mounts_under(_MOUNTINFO.read_text(), root.resolve())


def _umount2(point: str) -> str | None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.umount2(point.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        return f"{point}: {os.strerror(err)}"
    return None


def unmount_all_under(root: Path, deadline: float) -> UnmountResult:
    """Unmount every mount at or below ``root`` (repeating for stacked mounts) until none is left."""
    if not root.exists():
        return UnmountResult((), ())
    unmounted: list[str] = []
    errors: list[str] = []
    while time.monotonic() < deadline:
        points = current_mounts_under(root)
        if not points:
            break
        failed_round = [e for e in (_umount2(p) for p in points) if e is not None]
        unmounted += [p for p in points]
        if len(failed_round) == len(points):
            errors += failed_round
            break
    remaining = tuple(current_mounts_under(root))
    return UnmountResult(tuple(unmounted), remaining, tuple(errors))
