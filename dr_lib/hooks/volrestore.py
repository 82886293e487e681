"""Put one volume back: stage it privately inside its root, prove it, then rename it into place.

:func:`stage` opens the target's parent (below a storage root, see :mod:`dr_lib.hooks.confine`)
and creates a private (0700) staging directory there. A format-v1 archive member is unpacked into
it by :mod:`dr_lib.hooks.extract` and :func:`place` compares its tree digest with the manifest's
(required); a format-v2 volume is restored there by restic and proven by
:mod:`dr_lib.hooks.settle`. :func:`move_into_place` then gives the volume directory its owner and
(safe) mode and renames it into place without ever replacing an existing directory.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Any

from dr_lib.errors import VolumeRefused
from dr_lib.hooks.confine import Target, existing_kind, open_parent, remove_tree, rename_noreplace, staging_name
from dr_lib.hooks.extract import DIR_FLAGS, Extracted, Owner, apply_owner, extract_stream
from dr_lib.hooks.tarstream import Read, TarStream

REPLACED_SUFFIX = ".k3s-dr-replaced-"



@dataclass
class Staged:
    target: Target
    parent_fd: int
    staging: str
    extracted: Extracted | None = None

    def close(self) -> None:
        remove_tree(self.parent_fd, self.staging)
        os.close(self.parent_fd)


def stage(target: Target, token: str) -> Staged:
    fd = open_parent(target)
    name = staging_name(target.name, token)
    try:
        remove_tree(fd, name)  # a leftover of a killed restore with the same token: ours, hidden
        os.mkdir(name, 0o700, dir_fd=fd)
    except BaseException:
        os.close(fd)
        raise
    return Staged(target, fd, name)


def unpack(staged: Staged, read: Read, *, where: str) -> Extracted:
    staging_fd = os.open(staged.staging, DIR_FLAGS, dir_fd=staged.parent_fd)
    try:
        staged.extracted = extract_stream(TarStream(read, where), staging_fd)
    finally:
        os.close(staging_fd)
    return staged.extracted


def place(staged: Staged, *, expected: str, root: Owner | None, policy: str, stamp: str) -> dict[str, Any]:
    """Compare the unpacked tree's digest with ``expected``, then :func:`move_into_place` the staging directory."""
    extracted = staged.extracted
    if extracted is None:
        raise VolumeRefused("nothing was unpacked")
    digest = extracted.digest.hexdigest()
    if digest != expected:
        raise VolumeRefused(f"the unpacked data differs from the backup (tree sha256 {digest[:12]}… ≠ "
                            f"{expected[:12]}…): not put in place")
    return move_into_place(staged, staged.parent_fd, staged.staging, root=root or extracted.root, policy=policy,
                           stamp=stamp, summary=extracted.digest.summary())


def move_into_place(staged: Staged, from_fd: int, from_name: str, *, root: Owner | None, policy: str, stamp: str,
                    summary: tuple[int, int, str]) -> dict[str, Any]:
    """Rename the proven directory ``from_name`` (below ``from_fd``, inside the staging directory or the staging
    directory itself) to the target: ``placed``, ``replaced`` or ``kept-existing``. ``summary``: (files, content
    bytes, tree sha256) as reported."""
    if root is not None:
        fd = os.open(from_name, DIR_FLAGS, dir_fd=from_fd)
        try:
            apply_owner(fd, root)
        finally:
            os.close(fd)
    name = staged.target.name
    existing = existing_kind(staged.parent_fd, name)
    moved = None
    if existing not in (None, "directory"):
        raise VolumeRefused(f"{staged.target.resolved} exists and is a {existing}: not touched")
    if existing == "directory":
        if policy != "replace":
            return _report(staged, summary, "kept-existing", None)
        moved = f"{name}{REPLACED_SUFFIX}{stamp}"
        rename_noreplace(staged.parent_fd, name, moved)
    rename_noreplace(from_fd, from_name, name, new_dir_fd=staged.parent_fd)
    os.fsync(staged.parent_fd)
    return _report(staged, summary, "replaced" if moved else "placed", moved)


def _report(staged: Staged, summary: tuple[int, int, str], action: str, moved: str | None) -> dict[str, Any]:
    files, content, sha = summary
    parent = staged.target.resolved.rsplit("/", 1)[0]
    return {"action": action, "moved_aside": f"{parent}/{moved}" if moved else None, "files": files,
            "content_bytes": content, "tree_sha256": sha, "verified": True, "node_path": staged.target.resolved}


class ChunkPipe:
    """``restic dump``'s stdout chunks (pushed from its thread) as a ``read(n)`` for the consumer (this thread):
    ``zfs receive``'s stdin for a ZFS volume."""

    def __init__(self, depth: int = 32) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._buffer = memoryview(b"")
        self._offset = 0
        self.stopped = threading.Event()  # the reader gave up: the producer must stop, not block
        self.ended = False

    def push(self, chunk: bytes) -> None:
        while True:
            if self.stopped.is_set():
                raise VolumeRefused("the unpacking stopped")
            try:
                self._queue.put(chunk, timeout=0.5)
            except queue.Full:
                continue
            return

    def close(self) -> None:
        while not self.stopped.is_set():
            try:
                self._queue.put(None, timeout=0.5)
            except queue.Full:
                continue
            return

    def read(self, count: int) -> memoryview:
        """Up to ``count`` bytes, as a view of restic's chunk (no copy); empty at the end."""
        if self._offset >= len(self._buffer):
            if self.ended:
                return memoryview(b"")
            chunk = self._queue.get()
            if chunk is None:
                self.ended = True
                return memoryview(b"")
            self._buffer, self._offset = memoryview(chunk), 0
        piece = self._buffer[self._offset:self._offset + count]
        self._offset += len(piece)
        return piece
