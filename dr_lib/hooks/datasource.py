"""Where a restore reads an archive's repository data: the repository beside the archive, opened with its key.

An archive of format v2 carries the data repository's key (a member whose sha256 its manifest
holds) and names, per data item, the snapshot's persistent id and root tree. The repository is
``<the archive's directory>/data`` — the backup directory's own, or the one a pull filled. Before
anything is restored, :meth:`RepositorySource.resolve` finds every referenced snapshot there: by
its id, or as a copy whose ``original`` is that id, and only with the same root tree (content
addressed: the same tree id means the same bytes below it). A missing one refuses the restore.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from dr_lib.archive.access import read_repository_key
from dr_lib.archive.dataentry import DataEntry
from dr_lib.datarepo.repository import DataRepository, Snapshot
from dr_lib.errors import DRError, IntegrityError
from dr_lib.hooks.snaplisting import Expected, expected_tree


class RepositorySource:
    """The data repository of one archive, for the length of a restore (its key in a private temp file)."""

    def __init__(self, archive: Path, *, timeout: float = 3600.0) -> None:
        self.archive = archive
        self.timeout = timeout
        self._work = Path(tempfile.mkdtemp(prefix="k3s-dr-key-"))
        key = read_repository_key(archive)
        if key is None:
            shutil.rmtree(self._work, ignore_errors=True)
            raise IntegrityError(f"{archive.name} references repository data but carries no repository key")
        key_file = self._work / "key"
        key_file.write_bytes(key)
        key_file.chmod(0o600)
        self.key = key
        self.repository = DataRepository(archive.parent, key_file=key_file)
        self.local: dict[str, Snapshot] = {}

    def __enter__(self) -> RepositorySource:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)

    def deadline(self) -> float:
        return time.monotonic() + self.timeout

    def resolve(self, entries: Iterable[DataEntry]) -> list[str]:
        """Find each entry's snapshot here; the problems (missing, other tree), empty when all are found."""
        entries = list(entries)
        if not entries:
            return []
        if not self.repository.exists():
            return [f"the data repository {self.repository.path} does not exist (pull the archive with its data, "
                    "or copy the backup directory's data/ beside it)"]
        if all(self.repository.has_snapshot_file(str(e.snapshot)) for e in entries):
            # made here: found by their exact ids without a listing (a copy pulled in has another id); the tree
            # is compared by each volume's listing before its restore, a dump's content by its sha256
            self.local.update({e.path: Snapshot(str(e.snapshot), str(e.tree), None, (), (), "") for e in entries})
            return []
        try:
            snapshots = self.repository.snapshots(self.deadline(), tag=None)
        except DRError as exc:
            return [str(exc)]
        problems = []
        for entry in entries:
            found = next((s for s in snapshots if entry.snapshot in (s.id, s.original) and s.tree == entry.tree), None)
            if found is None:
                other = any(entry.snapshot in (s.id, s.original) for s in snapshots)
                why = "holds another tree (not the data this archive recorded)" if other else "is not there"
                problems.append(f"{entry.path}: snapshot {str(entry.snapshot)[:12]} {why}")
            else:
                self.local[entry.path] = found
        return problems

    def snapshot_of(self, entry: DataEntry) -> str:
        return self.local[entry.path].id

    def dump(self, entry: DataEntry, sink: Callable[[bytes], None]) -> None:
        self.repository.dump(self.snapshot_of(entry), str(entry.source), self.deadline(), sink)

    def expected_tree(self, entry: DataEntry) -> dict[str, Expected]:
        """The entry's tree as restic lists it, judged before restic may write any of it (see snaplisting)."""
        snapshot, nodes = self.repository.listing(self.snapshot_of(entry), self.deadline(), str(entry.source))
        return expected_tree(str(entry.source), str(entry.tree), snapshot, nodes)

    def restore(self, entry: DataEntry, target: str) -> None:
        """restic restores the entry's path below ``target`` (``target`` + the path, directories above included)."""
        self.repository.restore(self.snapshot_of(entry), str(entry.source), target, self.deadline())
