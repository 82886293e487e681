"""Make a directory restic restored fit to put in place, and prove it is the snapshot's tree.

restic restores as root what the snapshot recorded: setuid and setgid bits, group and other
write, extended attributes (``security.capability`` and ACLs among them). A volume comes back
without them, as from an archive (:mod:`dr_lib.hooks.extract`). The walk opens every entry
relative to its directory's descriptor with ``O_NOFOLLOW``, never follows a link, refuses a link
whose text leads out of the tree and anything but files, directories and links, and compares what
it found — every path, its kind, a file's size — with the listing restic restored from
(:mod:`dr_lib.hooks.snaplisting`): a missing, extra or different entry refuses the volume.

File contents are not read again: restic checked each blob's sha256 against its id as it wrote
it (restic 0.14 ``StreamPack``), and those ids hang from the root tree the manifest names.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dr_lib.errors import VolumeContentRefused
from dr_lib.hooks.extract import DIR_FLAGS, link_stays_inside, safe_mode
from dr_lib.hooks.snaplisting import SHOWN, Expected
from dr_lib.hooks.treedigest import ROOT

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP)


@dataclass(frozen=True)
class Settled:
    files: int
    content_bytes: int


def settle(volume_fd: int, expected: Mapping[str, Expected]) -> Settled:
    """Strip what a volume may not carry below ``volume_fd`` (and from it), then compare with ``expected``."""
    _strip(volume_fd, os.fstat(volume_fd))
    found: dict[str, Expected] = {}
    # depth first, one open directory (and its listing) per level: the descriptors held grow with the
    # depth, never with the width
    stack: list[tuple[int, Iterator[os.DirEntry[str]], str]] = []
    try:
        _enter(stack, os.dup(volume_fd), ROOT)
        while stack:
            dir_fd, entries, parent = stack[-1]
            entry = next(entries, None)
            if entry is None:
                _leave(stack)
                continue
            rel = entry.name if parent == ROOT else f"{parent}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                child = os.open(entry.name, DIR_FLAGS, dir_fd=dir_fd)
                found[rel] = Expected("dir", 0)
                _enter(stack, child, rel)
                _strip(child, os.fstat(child))
            else:
                found[rel] = _other(dir_fd, entry, rel)
    finally:
        while stack:
            _leave(stack)
    _compare(found, expected)
    sizes = [e.size for e in found.values() if e.kind == "file"]
    return Settled(len(sizes), sum(sizes))


def _enter(stack: list[tuple[int, Iterator[os.DirEntry[str]], str]], fd: int, rel: str) -> None:
    try:
        stack.append((fd, os.scandir(fd), rel))
    except BaseException:
        os.close(fd)
        raise


def _leave(stack: list[tuple[int, Iterator[os.DirEntry[str]], str]]) -> None:
    fd, entries, _rel = stack.pop()
    try:
        entries.close()  # type: ignore[attr-defined]
    finally:
        os.close(fd)


def _other(dir_fd: int, entry: os.DirEntry[str], rel: str) -> Expected:
    if entry.is_symlink():
        text = os.readlink(entry.name, dir_fd=dir_fd)
        if not link_stays_inside(rel, text):
            raise VolumeContentRefused(f"{rel!r} is a symbolic link to {text!r}, outside the volume")
        return Expected("symlink", 0)
    if entry.is_file(follow_symlinks=False):
        return Expected("file", _settle_file(dir_fd, entry.name, rel))
    raise VolumeContentRefused(f"{rel!r} is neither a file, a directory nor a link")


def _settle_file(dir_fd: int, name: str, rel: str) -> int:
    fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VolumeContentRefused(f"{rel!r} is not a regular file")
        _strip(fd, info)
        return info.st_size
    finally:
        os.close(fd)


def _strip(fd: int, info: os.stat_result) -> None:
    try:
        for name in os.listxattr(fd):
            os.removexattr(fd, name)
    except OSError as exc:
        if exc.errno not in _NO_XATTRS:
            raise
    mode = stat.S_IMODE(info.st_mode)
    if safe_mode(mode) != mode:
        os.fchmod(fd, safe_mode(mode))


def _compare(found: Mapping[str, Expected], expected: Mapping[str, Expected]) -> None:
    problems = [f"{rel} missing" for rel in sorted(expected.keys() - found.keys())]
    problems += [f"{rel} not in the snapshot" for rel in sorted(found.keys() - expected.keys())]
    problems += [f"{rel} is a {found[rel].kind} of {found[rel].size} bytes, the snapshot's a {want.kind} of "
                 f"{want.size}" for rel, want in sorted(expected.items()) if rel in found and found[rel] != want]
    if problems:
        more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise VolumeContentRefused(f"the restored tree differs from the snapshot: {', '.join(problems[:SHOWN])}{more}")
