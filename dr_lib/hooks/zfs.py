"""The ZFS volume backend: ``zfs snapshot`` + ``zfs send`` instead of a directory copy.

A snapshot is atomic for the whole dataset (no quiescing needed for crash consistency), and
``zfs send -c`` streams it with its on-disk compression. Restore receives the stream under a
temporary name (``<dataset>-k3s-dr-restoring``) and renames it into place only once the
archive's checksum matched; an existing dataset is kept, or moved aside with ``replace``.

Only the command lines are tested here (no ZFS pool on our machines): the runner is injected,
and tests check the exact argv each step runs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dr_lib import proc
from dr_lib.archive.fsutil import create_private
from dr_lib.errors import VolumeError
from dr_lib.hooks.pvdata import VolumeCapture

SNAPSHOT_PREFIX = "k3s-dr-"
RESTORING_SUFFIX = "-k3s-dr-restoring"
REPLACED_INFIX = "-k3s-dr-replaced-"
COMMAND_TIMEOUT = 3600.0


class Runner:
    """Runs one zfs command: stdin from a stream, stdout to a sink or returned. Injected in tests."""

    def __call__(self, argv: Sequence[str], *, stdin: IO[bytes] | None = None,
                 stdout: Callable[[bytes], None] | None = None) -> bytes:
        done = proc.run(argv, timeout=COMMAND_TIMEOUT, stdin=stdin, stdout_to=stdout, check=False)
        if done.returncode != 0:
            raise VolumeError(f"`{' '.join(argv[:3])}` failed (exit {done.returncode}): {done.stderr_tail(300)}")
        return done.stdout_bytes


@dataclass(frozen=True)
class ZfsBackend:
    run: Callable[..., bytes] = field(default_factory=Runner)
    name: str = "zfs"
    suffix: str = "zfs"

    def dataset_for(self, path: str) -> str:
        """The dataset mounted exactly at ``path`` (a send covers a whole dataset, never a subdirectory)."""
        listing = self.run(["zfs", "list", "-H", "-p", "-o", "name,mountpoint", "-t", "filesystem"])
        for line in listing.decode().splitlines():
            name, _, mountpoint = line.partition("\t")
            if mountpoint.rstrip("/") == path.rstrip("/"):
                return name
        raise VolumeError(f"{path} is not the mountpoint of a ZFS dataset: the zfs backend sends whole datasets "
                          "(give each volume its own dataset, or use the copy backend)")

    def capture(self, node_path: str, target: Path, stamp: str) -> VolumeCapture:
        dataset = self.dataset_for(node_path)
        snapshot = f"{dataset}@{SNAPSHOT_PREFIX}{stamp}"
        self.run(["zfs", "snapshot", snapshot])
        try:
            sha = hashlib.sha256()
            size = 0
            with os.fdopen(create_private(target), "wb") as handle:
                def sink(chunk: bytes) -> None:
                    nonlocal size
                    handle.write(chunk)
                    sha.update(chunk)
                    size += len(chunk)
                self.run(["zfs", "send", "-c", snapshot], stdout=sink)
                handle.flush()
                os.fsync(handle.fileno())
            referenced = self.run(["zfs", "get", "-H", "-p", "-o", "value", "referenced", snapshot]).strip()
        finally:
            self.run(["zfs", "destroy", snapshot])
        used = int(referenced) if referenced.isdigit() else None
        return VolumeCapture(size, sha.hexdigest(), None, used, None,
                             extra={"dataset": dataset, "snapshot": snapshot})

    def receive(self, stream: IO[bytes], dataset: str) -> str:
        """Receive into ``<dataset>-k3s-dr-restoring`` (unmounted); returns that name."""
        staging = f"{dataset}{RESTORING_SUFFIX}"
        self.run(["zfs", "receive", "-u", "-F", staging], stdin=stream)
        return staging

    def exists(self, dataset: str) -> bool:
        try:
            self.run(["zfs", "list", "-H", "-o", "name", dataset])
        except VolumeError:
            return False
        return True

    def place(self, staging: str, dataset: str, policy: str, stamp: str,
              mountpoint: str | None = None) -> tuple[str, str | None]:
        moved = None
        if self.exists(dataset):
            if policy != "replace":
                self.run(["zfs", "destroy", "-r", staging])
                return "kept-existing", None
            moved = f"{dataset}{REPLACED_INFIX}{stamp}"
            self.run(["zfs", "rename", dataset, moved])
        self.run(["zfs", "rename", staging, dataset])
        if mountpoint:
            # a plain send carries no properties: the volume's path is set again where it was
            self.run(["zfs", "set", f"mountpoint={mountpoint}", dataset])
        self.run(["zfs", "mount", dataset])
        return ("replaced" if moved else "placed"), moved
