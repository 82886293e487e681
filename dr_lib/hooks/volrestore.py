"""Put one volume back: stage it privately inside its root, prove it, then rename it into place.

:func:`stage` opens the target's parent (below a storage root, see :mod:`dr_lib.hooks.confine`)
and creates a private (0700) staging directory there; the tar stream — a format-v1 archive
member or a ``restic dump`` — is unpacked into it by :mod:`dr_lib.hooks.extract`; :func:`place`
compares the tree digest with the manifest's (required), gives the volume directory its owner
and (safe) mode, and renames it into place without ever replacing an existing directory.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dr_lib.errors import VolumeRefused
from dr_lib.hooks.confine import Target, existing_kind, open_parent, remove_tree, rename_noreplace, staging_name
from dr_lib.hooks.extract import DIR_FLAGS, Extracted, Owner, apply_owner, extract_stream
from dr_lib.hooks.tarstream import Read, TarStream
from dr_lib.hooks.treedigest import TreeDigest

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


def unpack(staged: Staged, read: Read, *, prefix: str, where: str) -> Extracted:
    staging_fd = os.open(staged.staging, DIR_FLAGS, dir_fd=staged.parent_fd)
    try:
        staged.extracted = extract_stream(TarStream(read, where), staging_fd, prefix)
    finally:
        os.close(staging_fd)
    return staged.extracted


def place(staged: Staged, *, expected: str, root: Owner | None, policy: str, stamp: str) -> dict[str, Any]:
    """Rename the checked staging directory to the target: ``placed``, ``replaced`` or ``kept-existing``."""
    extracted = staged.extracted
    if extracted is None:
        raise VolumeRefused("nothing was unpacked")
    digest = extracted.digest.hexdigest()
    if digest != expected:
        raise VolumeRefused(f"the unpacked data differs from the backup (tree sha256 {digest[:12]}… ≠ "
                            f"{expected[:12]}…): not put in place")
    owner = root or extracted.root
    if owner is not None:
        fd = os.open(staged.staging, DIR_FLAGS, dir_fd=staged.parent_fd)
        try:
            apply_owner(fd, owner)
        finally:
            os.close(fd)
    name = staged.target.name
    existing = existing_kind(staged.parent_fd, name)
    moved = None
    if existing not in (None, "directory"):
        raise VolumeRefused(f"{staged.target.resolved} exists and is a {existing}: not touched")
    if existing == "directory":
        if policy != "replace":
            return _report(staged, extracted.digest, "kept-existing", None)
        moved = f"{name}{REPLACED_SUFFIX}{stamp}"
        rename_noreplace(staged.parent_fd, name, moved)
    rename_noreplace(staged.parent_fd, staged.staging, name)
    os.fsync(staged.parent_fd)
    return _report(staged, extracted.digest, "replaced" if moved else "placed", moved)


def _report(staged: Staged, digest: TreeDigest, action: str, moved: str | None) -> dict[str, Any]:
    files, content, sha = digest.summary()
    parent = staged.target.resolved.rsplit("/", 1)[0]
    return {"action": action, "moved_aside": f"{parent}/{moved}" if moved else None, "files": files,
            "content_bytes": content, "tree_sha256": sha, "verified": True, "node_path": staged.target.resolved}


class ChunkPipe:
    """restic's stdout chunks (pushed from its thread) as a ``read(n)`` for the tar reader (this thread)."""

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


def unpack_from_producer(staged: Staged, produce: Callable[[Callable[[bytes], None]], None], *, prefix: str,
                         where: str) -> Extracted:
    """Run ``produce(sink)`` (e.g. ``restic dump``) in a thread and unpack what it writes into ``staged``."""
    pipe = ChunkPipe()
    failure: list[BaseException] = []

    def producer() -> None:
        try:
            produce(pipe.push)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, raised there
            failure.append(exc)
        finally:
            pipe.close()

    thread = threading.Thread(target=producer, name="restic-dump", daemon=True)
    thread.start()
    try:
        extracted = unpack(staged, pipe.read, prefix=prefix, where=where)
        while pipe.read(1 << 20):  # what follows the tar's end (padding) is drained, not left to block restic
            pass
    except BaseException:
        pipe.stopped.set()
        thread.join()
        if failure and not isinstance(failure[0], VolumeRefused):
            raise failure[0] from None
        raise
    thread.join()
    if failure:
        raise failure[0]
    return extracted
