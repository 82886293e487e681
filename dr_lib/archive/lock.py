"""One lock for every run that writes archives or the cluster: backup and restore never overlap.

``fcntl.flock`` on a lock file: the kernel releases it when the process dies, even by
SIGKILL, so a crashed run never leaves a stale lock behind. The holder writes its pid and
what it does into the file, so a refused run can say who holds it.

Where the lock lives matters as much as the lock: in a directory others can write (``/run/lock``
is 1777 and ``fs.protected_symlinks`` may be 0) anyone could plant a symbolic link that an
``open()`` follows and truncates, or take the lock first and block every backup and restore. So
the lock file's directory must be ours alone — created with mode 0700 when missing; refused when
it is a symbolic link, owned by another user or writable by group or others, or when it sits in a
directory that others can write (they could create it first, or replace it) — unless that directory
is sticky (``/tmp``) and ours already exists there: then nobody else can remove or rename it. The file is opened
with ``O_NOFOLLOW`` relative to that checked directory, must be our own regular file with a single
link, and is written (the holder's pid) only once the lock is held; it is never truncated before.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from dr_lib.atomic import wait_for_flock
from dr_lib.errors import EnvironmentProblem, LockBusy

LOCK_DIR_MODE = 0o700
LOCK_FILE_MODE = 0o600
_OTHERS_WRITE = 0o022  # group or other write
_HINT = "set backup.lock_file to a path in a directory only root writes (default /run/k3s-dr/k3s-dr.lock)"


def _refuse(path: Path, problem: str) -> EnvironmentProblem:
    return EnvironmentProblem(f"refusing the lock {str(path)!r}: {problem}", hint=_HINT)


def _ours_in_sticky(directory: Path, parent: os.stat_result) -> bool:
    """A directory of ours that already exists in a sticky one (``/tmp``, a ``mkdtemp`` work directory):
    others may create files beside it but can neither remove nor rename it, so it cannot be swapped."""
    if not parent.st_mode & stat.S_ISVTX:
        return False
    try:
        st = directory.lstat()
    except OSError:
        return False  # not there yet: another user could create it first
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _check_parent(directory: Path) -> None:
    """The directory holding the lock directory: others must not be able to create or swap the latter."""
    parent = directory.parent
    try:
        st = parent.stat()
    except OSError as exc:
        raise _refuse(directory, f"its parent {str(parent)!r} cannot be read: {exc.strerror}") from None
    if st.st_uid not in (0, os.geteuid()) or (st.st_mode & _OTHERS_WRITE and not _ours_in_sticky(directory, st)):
        raise _refuse(directory, f"it is in {str(parent)!r} (owner uid {st.st_uid}, mode "
                                 f"{stat.S_IMODE(st.st_mode):04o}), which other users can write: they could create "
                                 "or replace the lock directory")


def _make_dirs(directory: Path) -> None:
    """Create ``directory`` (and missing parents) with mode 0700 each, never following a planted link."""
    missing = []
    for path in (directory, *directory.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    for path in reversed(missing):
        _check_parent(path)
        try:
            path.mkdir(mode=LOCK_DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile: the checks on the opened directory judge it
        except OSError as exc:
            raise EnvironmentProblem(f"cannot open the lock file {str(directory)!r}: cannot create the directory "
                                     f"{str(path)!r}: {exc.strerror}", hint=_HINT) from None


def _open_dir(directory: Path) -> int:
    """A descriptor of the lock directory, checked on the descriptor itself (no race with a swap)."""
    _make_dirs(directory)
    _check_parent(directory)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and directory.is_symlink():
            raise _refuse(directory, "its directory is a symbolic link (planted?); it is not followed") from None
        raise EnvironmentProblem(f"cannot open the lock file in {str(directory)!r}: {exc.strerror}",
                                 hint=_HINT) from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & _OTHERS_WRITE:
        os.close(fd)
        raise _refuse(directory, f"its directory is owned by uid {st.st_uid} with mode "
                                 f"{stat.S_IMODE(st.st_mode):04o}; accepted is a directory of uid {os.geteuid()} "
                                 "that group and others cannot write")
    return fd


def _open_file(lock_path: Path) -> int:
    dir_fd = _open_dir(lock_path.parent)
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        try:
            fd = os.open(lock_path.name, flags | os.O_CREAT | os.O_EXCL, LOCK_FILE_MODE, dir_fd=dir_fd)
        except FileExistsError:
            fd = os.open(lock_path.name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(lock_path, "it is a symbolic link (planted?); it is not followed") from None
        raise EnvironmentProblem(f"cannot open the lock file {str(lock_path)!r}: {exc.strerror}", hint=_HINT) from None
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
        os.close(fd)
        raise _refuse(lock_path, f"it is not our own regular file (uid {st.st_uid}, {st.st_nlink} links, mode "
                                 f"{st.st_mode:o}); remove it if nothing else uses it")
    return fd


def _holder(handle_fd: int) -> str:
    try:
        text = os.pread(handle_fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return "another process"
    return text or "another process"


def _take(fd: int, wait_seconds: float) -> bool:
    if wait_seconds <= 0:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    return wait_for_flock(fd, time.monotonic() + wait_seconds)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock at ``path`` for the block; raise :class:`LockBusy` if it is taken (at once, or
    after waiting ``wait_seconds`` for its holder to finish), EnvironmentProblem if its place is unsafe."""
    lock_path = Path(path)
    fd = _open_file(lock_path)
    try:
        if not _take(fd, wait_seconds):
            waited = f" (waited {wait_seconds:g} s)" if wait_seconds > 0 else ""
            raise LockBusy(f"cannot {what}: {_holder(fd)} holds the lock {str(lock_path)!r}{waited}",
                           hint="wait for it to finish; the lock is released when that process exits")
        os.ftruncate(fd, 0)  # ours, and held: only now is its content ours to replace
        os.pwrite(fd, f"pid {os.getpid()} ({what})\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
