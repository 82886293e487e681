"""Crash-safe file operations: every visible name is either the old content or the complete new one.

The pattern is always the same: write under a hidden temporary name in the *same* directory,
fsync the file, rename it over the final name (atomic on POSIX), fsync the directory so the
rename itself survives a power cut. Symbolic links are replaced the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

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


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def create_private(path: Path) -> int:
    """A new file only we can read (archives hold Secrets); fails if the name exists."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, fmt.ARCHIVE_FILE_MODE)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so a crash leaves the old file or the new one."""
    temp = temp_path(path)
    unlink_quietly(temp)
    try:
        fd = create_private(temp)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        unlink_quietly(temp)
        raise os_problem(exc, "write", path) from None


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (a relative name) in one rename: it never dangles or vanishes."""
    temp = temp_path(link)
    unlink_quietly(temp)
    try:
        temp.symlink_to(target)
        temp.replace(link)
        fsync_dir(link.parent)
    except OSError as exc:
        unlink_quietly(temp)
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
