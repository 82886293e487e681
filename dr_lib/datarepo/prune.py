"""Prune the data repository with the archives' rotation: what no kept archive needs goes, nothing else.

The set of kept archives is an input — whatever the rotation rules (``dr_lib.archive.rotation``)
left in the backup directory. A snapshot stays when a kept archive's manifest references it (by
its persistent id), or when it is tagged with the name of a kept archive whose manifest could
not be read (we cannot know what that one needs, so we keep all it may need). Every other
snapshot of ours (tag ``k3s-dr-data``) is forgotten — those of rotated archives, and those of
backups that never wrote an archive — then ``restic prune`` removes the data only they held.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dr_lib.datarepo.repository import DataRepository, Snapshot


@dataclass(frozen=True)
class KeptArchive:
    name: str
    references: frozenset[str] | None  # snapshot ids its manifest names; None: its manifest is unreadable


def unreferenced(snapshots: Iterable[Snapshot], kept: Iterable[KeptArchive]) -> list[Snapshot]:
    """The snapshots no kept archive needs (pure)."""
    kept = list(kept)
    referenced = set().union(*(k.references for k in kept if k.references is not None))
    unknown = {k.name for k in kept if k.references is None}
    return [s for s in snapshots
            if s.ref not in referenced and s.id not in referenced and (s.archive is None or s.archive not in unknown)]


@dataclass(frozen=True)
class PruneReport:
    forgotten: tuple[str, ...]
    kept: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"forgotten": len(self.forgotten), "kept": self.kept, "seconds": round(self.seconds, 3)}


def prune(repository: DataRepository, kept: Iterable[KeptArchive], *, deadline: float) -> PruneReport:
    started = time.monotonic()
    snapshots = repository.snapshots(deadline)
    doomed = unreferenced(snapshots, kept)
    repository.forget_and_prune([s.id for s in doomed], deadline)
    return PruneReport(tuple(s.id for s in doomed), len(snapshots) - len(doomed), time.monotonic() - started)
