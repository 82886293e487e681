"""How many user objects an archive file holds, the cheapest way that is right, and the archive before it.

In order: its sidecar's count (written by the verification of this very file, by the current
rules), the manifest's count (when the backup counted by the current rules), else a count of
its objects — archives of k3s-dr versions that counted bootstrap RBAC and k3s's add-ons as user
objects are recounted, never compared as they are. Shared by the backup's shrink guard and
rotation, ``k3s-dr list`` and restore's warning about an archive with far fewer user objects.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dr_lib.archive import format as fmt
from dr_lib.archive.access import count_user_objects, read_manifest
from dr_lib.archive.sidecar import is_verified, read_sidecar
from dr_lib.errors import IntegrityError

# Counts made by reading an archive, by (path, size, mtime): a backup run asks for the promoted
# archive's count twice (shrink guard, rotation), and an old archive costs a read of its objects.
_COUNTED: dict[tuple[str, int, int], int | None] = {}


def archive_user_objects(path: Path) -> int | None:
    """User objects in the archive at ``path`` by the current rules; None when it cannot be read."""
    sidecar = read_sidecar(path)
    if sidecar is not None and sidecar.current_user_objects is not None and is_verified(path):
        return sidecar.current_user_objects
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _COUNTED:
        _COUNTED[key] = _read_count(path)
    return _COUNTED[key]


def _read_count(path: Path) -> int | None:
    try:
        counted = read_manifest(path).user_objects
        return count_user_objects(path) if counted is None else counted
    except IntegrityError:
        return None


def older_archives(directory: Path, before: datetime, *, besides: Path | None = None) -> list[Path]:
    """Archives in ``directory`` named after a time before ``before`` (not ``besides`` itself), newest first."""
    try:
        paths = [path for path in directory.iterdir() if fmt.archive_time(path.name) is not None]
    except OSError:
        return []
    skip = besides.resolve() if besides is not None else None
    dated = [(fmt.archive_time(path.name), path) for path in paths
             if path.is_file() and not path.is_symlink() and path.resolve() != skip]
    earlier = [(created, path) for created, path in dated if created is not None and created < before]
    return [path for _, path in sorted(earlier, key=lambda item: (item[0], item[1].name), reverse=True)]


def previous_with_user_objects(directory: Path, before: datetime, *,
                               besides: Path | None = None) -> tuple[Path, int] | None:
    """The newest archive before ``before`` that holds user objects, and how many; archives with none (or
    unreadable) are passed over: a run of backups of a wiped cluster must not hide the wipe."""
    for path in older_archives(directory, before, besides=besides):
        count = archive_user_objects(path)
        if count:
            return path, count
    return None


def user_object_drop(previous: int, current: int) -> float:
    """The share of ``previous`` user objects that ``current`` lacks (0 when nothing was lost)."""
    return 0.0 if previous <= 0 or current >= previous else (previous - current) / previous
