"""The tree digest of a volume: one sha256 over every entry's path, size and content hash.

It is independent of how the tree was stored (a tar in format v1, a restic snapshot in v2):
a line per entry — ``d <path>``, ``l <path> <link text>``, ``f <path> <size> <sha256>`` —
in one canonical order, the volume's root first as ``.``. The order is that of a walk that
lists a directory's entries (sorted by name) before descending into its subdirectories (in
name order): :func:`order_key` gives it for any set of paths, so a digest can be computed
from entries arriving in any order (a restic dump, a tar, our own walk).
"""

from __future__ import annotations

import hashlib
import os

ROOT = "."


def line(kind: str, rel: str, *parts: str) -> bytes:
    return b" ".join([kind.encode(), os.fsencode(rel), *(os.fsencode(p) for p in parts)]) + b"\n"


def order_key(rel: str) -> tuple[tuple[str, ...], str]:
    """Sort key of the canonical order: a directory's entries together, before its subdirectories' ones."""
    if rel == ROOT:
        return (), ""
    parts = rel.split("/")
    return tuple(parts[:-1]), parts[-1]


class TreeDigest:
    """Collects entry lines in any order; :meth:`hexdigest` hashes them in the canonical order."""

    def __init__(self) -> None:
        self.lines: dict[str, bytes] = {}
        self.files = 0
        self.content_bytes = 0

    def directory(self, rel: str) -> None:
        self.lines[rel] = line("d", rel)

    def symlink(self, rel: str, target: str) -> None:
        self.lines[rel] = line("l", rel, target)

    def file(self, rel: str, size: int, sha256: str) -> None:
        self.lines[rel] = line("f", rel, str(size), sha256)
        self.files += 1
        self.content_bytes += size

    def hexdigest(self) -> str:
        digest = hashlib.sha256()
        for rel in sorted(self.lines, key=order_key):
            digest.update(self.lines[rel])
        return digest.hexdigest()

    def summary(self) -> tuple[int, int, str]:
        """(files, content bytes, tree sha256)."""
        return self.files, self.content_bytes, self.hexdigest()

