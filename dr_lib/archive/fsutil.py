"""Crash-safe file operations of the backup directory: every visible name is the old content or the new one.

The pattern itself lives in :mod:`dr_lib.atomic`; this module adds what is archive-specific:
temporary names start with :data:`~dr_lib.archive.format.TEMP_PREFIX` (so no reader, lister or
rotation ever takes them for real files), files are private (0600), and OSErrors become
EnvironmentProblems with the backup directory's hints.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from dr_lib import atomic
from dr_lib.archive import format as fmt
from dr_lib.errors import EnvironmentProblem


def os_problem(exc: OSError, doing: str, path: Path | str) -> EnvironmentProblem:
    """An OSError as one clear sentence: what we were doing, where, and why it failed."""
    reason = exc.strerror or type(exc).__name__
    hint = None
    if exc.errno == errno.ENOSPC:
        hint = "free space in that file system or point backup.dir elsewhere"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "the directory must be writable by the user running k3s-dr"
    return EnvironmentProblem(f"cannot {doing} {str(path)!r}: {reason}", hint=hint)


def temp_path(final: Path) -> Path:
    """A hidden sibling of ``final`` that no reader, lister or rotation ever takes for the real file."""
    return final.with_name(f"{fmt.TEMP_PREFIX}{final.name}.{os.getpid()}")


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def create_private(path: Path) -> int:
    """A new file only we can read (archives hold Secrets); fails if the name exists."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, fmt.ARCHIVE_FILE_MODE)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so a crash leaves the old file or the new one."""
    try:
        atomic.write_atomic(path, data, mode=fmt.ARCHIVE_FILE_MODE, temp_name=temp_path(path).name)
    except OSError as exc:
        raise os_problem(exc, "write", path) from None


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (a relative name) in one rename: it never dangles or vanishes."""
    try:
        atomic.replace_symlink(link, target, temp_name=temp_path(link).name)
    except OSError as exc:
        raise os_problem(exc, "replace the link", link) from None


def ensure_private_dir(directory: Path) -> bool:
    """Create ``directory`` with mode 0700, or tighten it; True when its mode had to change."""
    try:
        directory.mkdir(mode=fmt.ARCHIVE_DIR_MODE, parents=True, exist_ok=True)
        mode = directory.stat().st_mode & 0o777
        if mode != fmt.ARCHIVE_DIR_MODE:
            directory.chmod(fmt.ARCHIVE_DIR_MODE)
            return True
    except OSError as exc:
        raise os_problem(exc, "prepare the backup directory", directory) from None
    return False


def child_path(directory: Path, name: str) -> Path | None:
    """``directory/name`` when ``name`` is one plain file name and the path, links resolved, stays directly
    inside ``directory``; None otherwise (``../x``, ``/etc/x``, ``a/b``, ``.``, a planted link out)."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        return None
    path = directory / name
    try:
        inside = path.resolve().parent == directory.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop
        return None
    return path if inside else None
