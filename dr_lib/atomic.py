"""Crash-safe file primitives shared by every area: a visible name holds the old content or the new, never half.

The pattern is always the same: write under a temporary name in the *same* directory (a rename
never crosses file systems), fsync the file, rename it over the final name (atomic on POSIX),
fsync the directory so the rename itself survives a power cut. Symbolic links are replaced the
same way.

Everything here raises plain :class:`OSError` (after removing its temporary file): each caller
maps it to its own :class:`~dr_lib.errors.EnvironmentProblem`, with the hint that fits its area.
Nothing here creates missing parent directories; callers that want them make them first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

HASH_CHUNK = 1 << 20


def fsync_dir(directory: Path) -> None:
    """Flush ``directory`` itself, so renames and new names in it survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(temp: Path) -> None:
    with contextlib.suppress(OSError):
        temp.unlink()


def _create_temp(path: Path, mode: int, temp_name: str | None) -> tuple[Path, int]:
    """A new temporary sibling of ``path``, open for writing, with exactly ``mode``."""
    if temp_name is None:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        temp = Path(name)
    else:
        temp = path.with_name(temp_name)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()  # a leftover of a crashed run under the same name
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # exact: the umask must not take bits away (or leave any for mkstemp's 0600)
    except BaseException:
        os.close(fd)
        _discard(temp)
        raise
    return temp, fd


def write_atomic_with(path: Path, write: Callable[[BinaryIO], object], *, mode: int = 0o600,
                      temp_name: str | None = None) -> None:
    """Replace ``path`` with what ``write`` writes into the (binary) temporary file it is given.

    The temporary file is ``temp_name`` in the same directory (a leftover of that name is removed
    first, then it is created with ``O_EXCL``), or a fresh random ``.<name>.XXXXXXXX`` when None.
    Whatever goes wrong, ``write`` included, removes the temporary file and propagates unchanged.
    """
    temp, fd = _create_temp(path, mode, temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o600, temp_name: str | None = None) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) and give it exactly ``mode``; see :func:`write_atomic_with`."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_atomic_with(path, lambda handle: handle.write(payload), mode=mode, temp_name=temp_name)


def replace_symlink(link: Path, target: str, *, temp_name: str | None = None) -> None:
    """Point ``link`` at ``target`` in one rename: the link never dangles or vanishes meanwhile.

    ``link`` may be missing, a link or a regular file. The new link is made under ``temp_name``
    (a leftover of that name is removed first), or a random hidden name when None.
    """
    temp = link.with_name(temp_name or f".{link.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        temp.symlink_to(target)
        temp.replace(link)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(link.parent)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``, read in 1 MiB blocks (memory stays flat)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def wait_for_flock(fd: int, deadline: float, *, poll: float = 0.2,
                   clock: Callable[[], float] = time.monotonic) -> bool:
    """Take an exclusive ``flock`` on ``fd``, retrying every ``poll`` seconds until ``clock()`` reaches ``deadline``.

    True once held (closing ``fd`` releases it, also when the process dies); False when another
    holder kept it past the deadline. Callers raise their own error with their own message.
    """
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if clock() >= deadline:
                return False
            time.sleep(poll)
        else:
            return True
