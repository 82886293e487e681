"""Where volume data may go: only below the configured storage roots, reached without following links.

A restore takes a volume's node path from an archive — untrusted input. It is accepted only
when it is a plain absolute path (no ``.``/``..``/empty components) that, after resolving the
symbolic links of every existing component (``realpath``), lies strictly below a configured
root (``data.volume_roots``, itself resolved). Everything after that works from the resolved
root through directory descriptors opened with ``O_NOFOLLOW``, one component at a time: a link
planted later is never followed. The data is put into a private staging directory beside
the target (inside the root), checked, and renamed into place with ``RENAME_NOREPLACE``: an
existing directory — empty or not — is never replaced; with ``replace`` it is first renamed
aside (never deleted).

ZFS datasets likewise: a dataset must lie strictly below a configured one (``data.zfs_datasets``)
and be a plain dataset name (no snapshot, no option-like text).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dr_lib.archive.dataentry import is_plain_absolute
from dr_lib.errors import OutsideRoots

DEFAULT_VOLUME_ROOTS = ("/var/lib/rancher/k3s/storage",)
STAGING_PREFIX = ".k3s-dr-restoring-"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DATASET = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*(/[A-Za-z0-9_][A-Za-z0-9_.:-]*)*$")
_RENAME_NOREPLACE = 1



@dataclass(frozen=True)
class Target:
    """A checked place for a volume: the resolved root, the components below it, the name."""

    node_path: str  # as the archive says
    root: str  # the resolved root it lies in
    parents: tuple[str, ...]  # components between the root and the volume's directory
    name: str

    @property
    def resolved(self) -> str:
        return "/".join([self.root, *self.parents, self.name])


def _resolved(path: str) -> str:
    return os.path.realpath(path)


def locate(node_path: object, roots: Iterable[str]) -> Target:
    """The place for ``node_path`` if it lies below one of ``roots``; OutsideRoots saying why not."""
    if not is_plain_absolute(node_path):
        raise OutsideRoots(f"node path {node_path!r} is not a plain absolute path (no '.', '..', '//')")
    assert isinstance(node_path, str)
    resolved = _resolved(node_path)
    checked = []
    for root in roots:
        base = _resolved(root)
        checked.append(base)
        if resolved.startswith(base.rstrip("/") + "/"):
            parts = tuple(resolved[len(base.rstrip("/")) + 1:].split("/"))
            return Target(node_path, base, parts[:-1], parts[-1])
    via = f" (it resolves to {resolved})" if resolved != node_path else ""
    raise OutsideRoots(f"node path {node_path!r}{via} is outside the storage roots ({', '.join(checked) or 'none'})",
                       hint="a restore writes volumes only below data.volume_roots; add the root if it is yours, "
                            "or restore without the data (--no-data)")


def open_parent(target: Target) -> int:
    """A descriptor of the volume's parent directory (the caller closes it), creating missing components
    (0755) below the root; each component opened with ``O_NOFOLLOW``."""
    Path(target.root).mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(target.root, DIR_FLAGS)
    try:
        for part in target.parents:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                child = _open_component(part, fd, target)
            except OSError as exc:
                raise _not_a_directory(target, part, exc, fd) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_component(part: str, fd: int, target: Target) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _not_a_directory(target, part, exc, fd) from None


def _not_a_directory(target: Target, part: str, exc: OSError, fd: int | None = None) -> OutsideRoots:
    kind = existing_kind(fd, part) if fd is not None else None
    why = {"link": "a symbolic link", "file": "not a directory"}.get(kind or "", exc.strerror or str(exc))
    return OutsideRoots(f"node path {target.node_path!r}: component {part!r} is {why}: refused")


def existing_kind(parent_fd: int, name: str) -> str | None:
    """None when nothing has that name; else 'directory', 'link' or 'file'."""
    try:
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return "directory" if stat.S_ISDIR(info.st_mode) else "link" if stat.S_ISLNK(info.st_mode) else "file"


def rename_noreplace(parent_fd: int, old: str, new: str, *, new_dir_fd: int | None = None) -> None:
    """rename(2) that fails with FileExistsError instead of replacing an (empty) directory.

    ``old`` is relative to ``parent_fd``, ``new`` to ``new_dir_fd`` (default: the same directory).
    """
    to_fd = parent_fd if new_dir_fd is None else new_dir_fd
    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is not None:
        if function(parent_fd, os.fsencode(old), to_fd, os.fsencode(new), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(code, os.strerror(code), new)
    if existing_kind(to_fd, new) is not None:  # no renameat2 here: check, then rename (under lock)
        raise FileExistsError(errno.EEXIST, "exists", new)
    os.rename(old, new, src_dir_fd=parent_fd, dst_dir_fd=to_fd)


def remove_tree(parent_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(name, dir_fd=parent_fd)


def remove_volume(target: Target) -> None:
    """Remove the volume directory at ``target`` (what a restore placed there), reached from its resolved root
    one component at a time with ``O_NOFOLLOW``: a link planted since :func:`locate` checked the path is never
    followed, and a path already gone is nothing to remove."""
    try:
        fd = os.open(target.root, DIR_FLAGS)
    except FileNotFoundError:
        return
    try:
        for part in target.parents:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise _not_a_directory(target, part, exc, fd) from None
            os.close(fd)
            fd = child
        remove_tree(fd, target.name)
    finally:
        os.close(fd)


def check_dataset(dataset: object, allowed: Iterable[str]) -> str:
    """``dataset`` when it lies strictly below one of ``allowed``; OutsideRoots saying why not."""
    if not isinstance(dataset, str) or _DATASET.match(dataset) is None:
        raise OutsideRoots(f"ZFS dataset {dataset!r} is not a plain dataset name")
    parents = [a.rstrip("/") for a in allowed]
    if not any(dataset.startswith(a + "/") for a in parents):
        raise OutsideRoots(f"ZFS dataset {dataset!r} is outside the configured datasets "
                           f"({', '.join(parents) or 'none'})",
                           hint="add its parent to data.zfs_datasets if a restore may replace it")
    return dataset


def staging_name(name: str, token: str) -> str:
    return f"{STAGING_PREFIX}{name}-{token}"
