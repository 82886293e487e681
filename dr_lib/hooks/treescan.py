"""Our own view of a volume while restic backs it up: a walk, the files' sha256, and the reconciliation.

restic reads the volume itself (so unchanged files are not read again: incremental by
metadata, like restic always does). The tree digest the manifest records must be that of the
bytes restic stored, so it is built from the snapshot's own node list (``restic ls``) and our
hashes:

* :func:`walk` lists the volume with ``lstat`` (no content): directories, files, symbolic
  links, and the special files (sockets, FIFOs, devices) that are left out of the snapshot.
* :func:`hash_files` hashes every file while restic runs — or takes the hash from the digest
  cache when size, mtime, ctime and inode are those of a previous read (a read is cached only
  when it was *stable*: the same metadata before and after, and not written in the last second,
  so a write in the same clock tick cannot hide). Both read the same page cache.
* :func:`reconcile` walks the snapshot's nodes: a file whose recorded metadata is that of a
  stable read of ours has that read's hash, unless the same inode changed since (then restic's
  read may have overlapped the change: not resolvable, the batch is retried); a file we did not
  read with that metadata is read now if it still has it. Anything else is reported, and the
  caller retries the backup (incremental, so cheap) or gives up naming the files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dr_lib.datarepo.repository import SnapNode
from dr_lib.hooks.cpushare import BesideRestic
from dr_lib.hooks.treedigest import ROOT, TreeDigest

CHUNK = 1 << 20
RACY_NS = 1_000_000_000  # metadata younger than this at read time is not cached
HASH_WORKERS = 2


@dataclass(frozen=True)
class Meta:
    """What restic compares to decide a file is unchanged, plus the kind and inode."""

    kind: str  # "d" | "f" | "l" | "x" (anything else: left out)
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int = 0

    @classmethod
    def of(cls, info: os.stat_result) -> Meta:
        mode = info.st_mode
        kind = "d" if stat.S_ISDIR(mode) else "f" if stat.S_ISREG(mode) else "l" if stat.S_ISLNK(mode) else "x"
        return cls(kind, info.st_size if kind == "f" else 0, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)

    def same_content_as(self, other: Meta) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns) == (other.size, other.mtime_ns, other.ctime_ns)


@dataclass
class Scan:
    """One volume as we saw it: its entries' metadata, link texts, special files and stable reads."""

    root: Path
    nodes: dict[str, Meta] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    specials: list[str] = field(default_factory=list)
    hashes: dict[str, tuple[Meta, str]] = field(default_factory=dict)
    cacheable: dict[str, tuple[Meta, str]] = field(default_factory=dict)
    bytes_read: int = 0
    owner: dict[str, float] = field(default_factory=dict)  # the volume directory's mode, uid, gid, mtime

    @property
    def root_meta(self) -> Meta:
        return self.nodes[ROOT]


def _entries(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of everything under root in the canonical order; root itself first, as '.'."""
    yield ROOT, root.lstat()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel if rel else root) as listing:
                names = sorted(entry.name for entry in listing)
        except (FileNotFoundError, NotADirectoryError):
            continue
        subdirs = []
        for entry_name in names:
            child = f"{rel}/{entry_name}" if rel else entry_name
            try:
                info = (root / child).lstat()
            except FileNotFoundError:
                continue  # removed since the listing (a live workload): not part of this copy
            yield child, info
            if stat.S_ISDIR(info.st_mode):
                subdirs.append(child)
        stack.extend(reversed(subdirs))


def walk(root: Path) -> Scan:
    scan = Scan(root)
    for rel, info in _entries(root):
        meta = Meta.of(info)
        if rel == ROOT:
            if meta.kind != "d":
                raise NotADirectoryError(f"{root} is not a directory")
            scan.owner = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid,
                          "mtime": info.st_mtime}
        if meta.kind == "x":
            scan.specials.append(rel)
            continue
        scan.nodes[rel] = meta
        if meta.kind == "l":
            try:
                scan.links[rel] = os.readlink(root / rel)  # noqa: PTH115 - the link's text exactly
            except OSError:
                scan.nodes.pop(rel)
    return scan


def stable_hash(path: Path, expected: Meta | None = None) -> tuple[Meta, str] | None:
    """(metadata, sha256) of a file read whole with the same metadata before and after; None if it changed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        before = Meta.of(os.fstat(fd))
        if before.kind != "f" or (expected is not None and not before.same_content_as(expected)):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
        after = Meta.of(os.fstat(fd))
    finally:
        os.close(fd)
    return (before, digest.hexdigest()) if before == after else None


def hash_files(scan: Scan, cache: Mapping[str, tuple[Meta, str]], *, workers: int = HASH_WORKERS,
                share: BesideRestic | None = None) -> None:
    """Fill ``scan.hashes``: from ``cache`` when the metadata matches, else by reading (in threads).

    Beside ``restic backup`` (``share``), the threads take only idle CPU until restic is done
    (:mod:`dr_lib.hooks.cpushare`): restic is what the backup waits for."""
    started_ns = time.time_ns()
    todo = []
    for rel, meta in scan.nodes.items():
        cached = cache.get(rel)
        if meta.kind != "f":
            continue
        if cached is not None and cached[0] == meta:
            scan.hashes[rel] = scan.cacheable[rel] = cached
        else:
            todo.append(rel)

    def read(rel: str) -> tuple[str, tuple[Meta, str] | None]:
        return rel, stable_hash(scan.root / rel, scan.nodes[rel])

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hash",
                            initializer=share.enter if share else None) as pool:
        for rel, result in pool.map(read, todo):
            if result is None:
                continue
            scan.hashes[rel] = result
            scan.bytes_read += result[0].size
            if max(result[0].mtime_ns, result[0].ctime_ns) < started_ns - RACY_NS:
                scan.cacheable[rel] = result
    if share is not None:
        share.forget()  # the pool's threads have ended: their ids may be reused


def reconcile(scan: Scan, snapshot: Mapping[str, SnapNode]) -> tuple[TreeDigest, list[str]]:
    """The tree digest of what the snapshot holds (relative paths → nodes), and what could not be proven."""
    tree = TreeDigest()
    problems: list[str] = []
    for rel, node in snapshot.items():
        if node.kind == "dir":
            tree.directory(rel)
        elif node.kind == "symlink":
            text = _link_now(scan.root / rel, node)
            if text is None:
                problems.append(f"{rel} (symbolic link changed)")
            else:
                tree.symlink(rel, text)
        elif node.kind == "file":
            found = _file_hash(scan, rel, node, Meta("f", node.size, node.mtime_ns, node.ctime_ns))
            if found is None:
                problems.append(f"{rel} (changed while being copied)")
            else:
                tree.file(rel, node.size, found)
        else:
            problems.append(f"{rel} (a {node.kind} appeared while being copied)")
    if snapshot.get(ROOT, SnapNode("", 0, 0, 0)).kind != "dir":
        problems.append(". (the volume's directory is not in the snapshot)")
    return tree, problems


def _now(path: Path) -> Meta | None:
    try:
        return Meta.of(path.lstat())
    except OSError:
        return None


def _link_now(path: Path, node: SnapNode) -> str | None:
    now = _now(path)
    if now is None or now.kind != "l" or (now.mtime_ns, now.ctime_ns) != (node.mtime_ns, node.ctime_ns):
        return None
    try:
        return os.readlink(path)  # noqa: PTH115 - the link's text exactly
    except OSError:
        return None


def _file_hash(scan: Scan, rel: str, node: SnapNode, wanted: Meta) -> str | None:
    now = _now(scan.root / rel)
    known = scan.hashes.get(rel)
    if known is not None and known[0].same_content_as(wanted):
        # The inode we read changed since: restic's read may have overlapped the change.
        if now is not None and now.ino == known[0].ino and not now.same_content_as(wanted):
            return None
        return known[1]
    if now is None or not now.same_content_as(wanted):
        return None
    read = stable_hash(scan.root / rel, wanted)
    if read is None:
        return None
    scan.hashes[rel] = read
    return read[1]
