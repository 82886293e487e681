"""The digest cache: per volume, the sha256 of each file as last read, with the metadata it had then.

``<backup.dir>/data.digests`` (0600, rewritten atomically after each backup with data): what
lets an hourly backup hash only the files that changed, as restic reads only those. An entry
is used only when size, mtime, ctime and inode are all the same (restic's own test, plus the
inode); reads of files written in the second before are never cached. A damaged or foreign
file is ignored (everything is read again), never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dr_lib.archive.fsutil import atomic_write
from dr_lib.hooks.treescan import Meta

CACHE_FILE = "data.digests"
FORMAT = "k3s-dr-digest-cache"

VolumeCache = dict[str, tuple[Meta, str]]


def _entry(row: Any) -> tuple[str, tuple[Meta, str]] | None:
    if not (isinstance(row, list) and len(row) == 6 and isinstance(row[0], str) and isinstance(row[5], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in row[1:5]) and len(row[5]) == 64):
        return None
    return row[0], (Meta("f", row[1], row[2], row[3], row[4]), row[5])


def load(directory: Path) -> dict[str, VolumeCache]:
    try:
        data = json.loads((directory / CACHE_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("volumes"), dict):
        return {}
    caches: dict[str, VolumeCache] = {}
    for root, rows in data["volumes"].items():
        if isinstance(root, str) and isinstance(rows, list):
            caches[root] = dict(e for e in (_entry(r) for r in rows) if e is not None)
    return caches


def save(directory: Path, caches: Mapping[str, VolumeCache]) -> None:
    volumes = {root: [[rel, m.size, m.mtime_ns, m.ctime_ns, m.ino, sha] for rel, (m, sha) in sorted(cache.items())]
               for root, cache in sorted(caches.items())}
    data = json.dumps({"format": FORMAT, "volumes": volumes}, separators=(",", ":")).encode()
    atomic_write(directory / CACHE_FILE, data)
