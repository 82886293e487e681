"""Unpack a volume's tar stream into a private staging directory, member by member, and digest it.

Every entry is created by us, relative to directory file descriptors opened with
``O_NOFOLLOW`` (no path we create is ever resolved through a link), and only these:

* directories and regular files, inside the staging directory, each name at most once;
* symbolic links whose text is relative and stays inside the tree (resolved lexically from the
  link's directory): a link that points out, or anywhere absolute, refuses the whole volume;
* nothing else: hard links, devices, FIFOs and sockets refuse the volume.

Modes come back without setuid, setgid and group/other write; owners and modification times
as recorded. The tree digest (:mod:`dr_lib.hooks.treedigest`) is computed from what was written,
while it is written, so a caller compares it with the manifest before anything is put in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import tarfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from dr_lib.errors import VolumeContentRefused
from dr_lib.hooks.tarstream import Member, TarStream
from dr_lib.hooks.treedigest import ROOT, TreeDigest

SAFE_MODE_MASK = 0o7777 & ~0o6022  # no setuid/setgid, no group/other write: a restore grants nothing new
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC



@dataclass(frozen=True)
class Owner:
    mode: int
    uid: int
    gid: int
    mtime: float


@dataclass
class Extracted:
    digest: TreeDigest = field(default_factory=TreeDigest)
    root: Owner | None = None  # the volume directory's own metadata, when the tar carries it (format v1)
    directories: list[tuple[str, Owner]] = field(default_factory=list)


def safe_mode(mode: int) -> int:
    return mode & SAFE_MODE_MASK


def relative_name(name: str) -> str:
    """The entry's path inside the volume, checked to be plain and relative."""
    rel = name.rstrip("/") if name not in ("./", ".") else ROOT
    if rel.startswith("./"):
        rel = rel[2:]
    parts = rel.split("/")
    if rel != ROOT and (rel.startswith("/") or "\0" in rel or any(p in ("", ".", "..") for p in parts)):
        raise VolumeContentRefused(f"{name!r} is not a plain relative path")
    return rel


def link_stays_inside(rel: str, target: str) -> bool:
    """A symbolic link at ``rel`` whose text ``target`` resolves (lexically) inside the tree."""
    if not target or target.startswith("/") or "\0" in target:
        return False
    base = posixpath.dirname(rel) if rel != ROOT else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    return resolved != ".." and not resolved.startswith("../") and not resolved.startswith("/")


class _Dirs:
    """Directories created below the staging directory, reached through descriptors opened one
    component at a time with ``O_NOFOLLOW`` (a bounded number kept open, the rest reopened)."""

    MAX_OPEN = 256

    def __init__(self, staging_fd: int) -> None:
        self.root = staging_fd
        self.created = {ROOT}
        self.open: OrderedDict[str, int] = OrderedDict()

    def fd(self, rel: str) -> int:
        if rel == ROOT:
            return self.root
        if rel not in self.created:
            raise VolumeContentRefused(f"{rel!r} is used before it was created as a directory")
        found = self.open.get(rel)
        if found is not None:
            self.open.move_to_end(rel)
            return found
        parent, _, name = rel.rpartition("/")
        opened = os.open(name, DIR_FLAGS, dir_fd=self.fd(parent or ROOT))
        self.open[rel] = opened
        while len(self.open) > self.MAX_OPEN:
            os.close(self.open.popitem(last=False)[1])
        return opened

    def parent_of(self, rel: str) -> tuple[int, str]:
        parent, _, name = rel.rpartition("/")
        return self.fd(parent or ROOT), name

    def add(self, rel: str) -> None:
        fd, name = self.parent_of(rel)
        os.mkdir(name, 0o700, dir_fd=fd)
        self.created.add(rel)

    def close(self) -> None:
        while self.open:
            os.close(self.open.popitem()[1])


def extract_stream(stream: TarStream, staging_fd: int) -> Extracted:
    """Unpack ``stream`` into the empty directory ``staging_fd``; VolumeContentRefused for a hostile entry."""
    result = Extracted()
    result.digest.directory(ROOT)
    dirs = _Dirs(staging_fd)
    seen: set[str] = {ROOT}
    try:
        for member in stream:
            rel = relative_name(member.name)
            if rel == ROOT:
                if member.type != tarfile.DIRTYPE:
                    raise VolumeContentRefused("the volume's root is not a directory")
                result.root = Owner(member.mode, member.uid, member.gid, member.mtime)
                continue
            if rel in seen:
                raise VolumeContentRefused(f"{rel!r} appears twice")
            seen.add(rel)
            _entry(stream, member, rel, dirs, result)
        _finish_directories(dirs, result.directories)
    finally:
        dirs.close()
    return result


def _entry(stream: TarStream, member: Member, rel: str, dirs: _Dirs, result: Extracted) -> None:
    owner = Owner(member.mode, member.uid, member.gid, member.mtime)
    if member.type == tarfile.DIRTYPE:
        dirs.add(rel)
        result.directories.append((rel, owner))
        result.digest.directory(rel)
    elif member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        fd, name = dirs.parent_of(rel)
        result.digest.file(rel, member.size, _write_file(stream, fd, name, owner))
    elif member.type == tarfile.SYMTYPE:
        if not link_stays_inside(rel, member.linkname):
            raise VolumeContentRefused(f"{rel!r} is a symbolic link to {member.linkname!r}, outside the volume")
        fd, name = dirs.parent_of(rel)
        os.symlink(member.linkname, name, dir_fd=fd)
        os.chown(name, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        with contextlib.suppress(OSError):
            os.utime(name, (member.mtime, member.mtime), dir_fd=fd, follow_symlinks=False)
        result.digest.symlink(rel, member.linkname)
    else:
        raise VolumeContentRefused(f"{rel!r} is {_describe(member)}: a volume holds only files, directories and links")


def _write_file(stream: TarStream, dir_fd: int, name: str, owner: Owner) -> str:
    digest = hashlib.sha256()
    fd = os.open(name, FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        for chunk in stream.data():
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        os.fchown(fd, owner.uid, owner.gid)
        os.fchmod(fd, safe_mode(owner.mode))
        os.utime(fd, (owner.mtime, owner.mtime))
    finally:
        os.close(fd)
    return digest.hexdigest()


def _finish_directories(dirs: _Dirs, directories: list[tuple[str, Owner]]) -> None:
    """Owners, modes and times of directories last (deepest first): writing into them changed their times."""
    for rel, owner in reversed(directories):
        apply_owner(dirs.fd(rel), owner)


def apply_owner(fd: int, owner: Owner) -> None:
    os.fchown(fd, owner.uid, owner.gid)
    os.fchmod(fd, safe_mode(owner.mode))
    os.utime(fd, (owner.mtime, owner.mtime))


def _describe(member: Member) -> str:
    kinds = {tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE:
             "a block device", tarfile.FIFOTYPE: "a FIFO", tarfile.CONTTYPE: "a contiguous file"}
    return kinds.get(member.type, f"of tar type {member.type!r}")


@contextlib.contextmanager
def opened_directory(path: str, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)
