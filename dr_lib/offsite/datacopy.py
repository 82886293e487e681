"""Application data travels with its archive: the snapshots an archive references, copied with ``restic copy``.

Every offsite target has a restic repository for data: a restic target its own repository;
an S3 target ``s3:<endpoint>/<bucket>/<prefix>data``, opened with the key the archive carries
(so only who can read the archive — age-encrypted when recipients are set — can read its data).
A push copies the archive's snapshots there *before* the archive itself is published (an archive
copy is good only with its data), then proves each arrived with its root tree. A pull copies them
back into the local data repository (created with the archive's key when the machine has none)
and proves the same. ``restic copy`` keeps a snapshot's tree and data blob ids and records the
original id, so the manifest's references hold in every repository. Retention forgets the data
snapshots of archives no longer kept (tag ``archive:<name>``), then prunes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dr_lib.archive.access import read_manifest, read_repository_key
from dr_lib.archive.dataentry import DataEntry
from dr_lib.datarepo.repository import TAG, DataRepository, Snapshot, parse_snapshots
from dr_lib.datarepo.restic import CommandResult, ResticRepo, failure, restic
from dr_lib.errors import IntegrityError

LOCK_WAIT = 300.0


@dataclass(frozen=True)
class ArchiveData:
    """What an archive needs of the data repository: its entries and the key that opens them."""

    archive: Path
    entries: tuple[DataEntry, ...]
    key_file: Path

    @property
    def refs(self) -> set[str]:
        return {str(e.snapshot) for e in self.entries}


@contextmanager
def archive_data(archive: Path) -> Iterator[ArchiveData | None]:
    """The repository data ``archive`` references, with its key in a private temporary file; None without."""
    entries = read_manifest(archive).stored_data
    if not entries:
        yield None
        return
    key = read_repository_key(archive)
    if key is None:
        raise IntegrityError(f"{archive.name} references repository data but carries no key")
    work = Path(tempfile.mkdtemp(prefix="k3s-dr-key-"))
    try:
        key_file = work / "key"
        key_file.write_bytes(key)
        key_file.chmod(0o600)
        yield ArchiveData(archive, entries, key_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def find(snapshots: Iterable[Snapshot], entries: Iterable[DataEntry]) -> tuple[dict[str, Snapshot], list[str]]:
    """Each entry's snapshot among ``snapshots`` (by id or original, same tree), and what is missing (pure)."""
    found: dict[str, Snapshot] = {}
    missing = []
    listed = list(snapshots)
    for entry in entries:
        match = next((s for s in listed if entry.snapshot in (s.id, s.original) and s.tree == entry.tree), None)
        if match is None:
            missing.append(f"{entry.path} (snapshot {str(entry.snapshot)[:12]})")
        else:
            found[str(entry.snapshot)] = match
    return found, missing


_MISSING = ("unable to open config file", "is there a repository at the following location",
            "repository does not exist", "nosuchbucket", "the specified bucket does not exist")


def _snapshots(repo: ResticRepo, deadline: float, doing: str) -> list[Snapshot] | None:
    """Our data snapshots in ``repo``; None when the repository does not exist (yet)."""
    result = restic(repo, ["snapshots", "--json", f"--tag={TAG}"], deadline=deadline, doing=doing,
                    lock_wait=LOCK_WAIT, check=False)
    if result.returncode == 0:
        return parse_snapshots(result.stdout)
    if any(needle in result.stderr.lower() for needle in _MISSING):
        return None
    raise failure(repo, result, doing)


def _listed(repo: ResticRepo, deadline: float) -> list[Snapshot]:
    found = _snapshots(repo, deadline, "list its snapshots")
    if found is None:
        raise IntegrityError(f"{repo.label} does not exist")
    return found


def _from_hint(source: ResticRepo) -> list[str]:
    return ["--from-key-hint", source.key_hint] if source.key_hint else []


def _copy(source: ResticRepo, destination: ResticRepo, ids: Sequence[str], deadline: float,
          *, create: bool) -> CommandResult:
    """``restic copy`` of ``ids`` from ``source`` into ``destination`` (created first when ``create``)."""
    both = replace(destination, env={**source.env, **destination.env})  # credentials of either backend
    if create:
        restic(both, ["init", "--repository-version", "2", "--copy-chunker-params", "--from-repo",
                      source.location, "--from-password-file", str(source.password_file), *_from_hint(source)],
               deadline=deadline, doing="create it")
    return restic(both, ["copy", "--from-repo", source.location, "--from-password-file",
                         str(source.password_file), *_from_hint(source), *ids], deadline=deadline,
                  doing=f"copy {len(ids)} data snapshots from {source.label}", lock_wait=LOCK_WAIT)


def push_data(data: ArchiveData, target: ResticRepo, deadline: float) -> dict[str, Any]:
    """Copy the archive's snapshots from the local data repository to ``target``; proven there by tree."""
    started = time.monotonic()
    local = DataRepository(data.archive.parent, key_file=data.key_file).repo
    local_found, missing = find(_listed(local, deadline), data.entries)
    if missing:
        raise IntegrityError(f"{data.archive.name}: its data is not in {local.label}: {', '.join(missing[:5])}",
                             hint="the archive cannot be pushed with its data; back up again")
    there = _snapshots(target, deadline, "list its snapshots")
    already, _todo = find(there or [], data.entries)
    ids = sorted({s.id for ref, s in local_found.items() if ref not in already})
    if ids:
        _copy(local, target, ids, deadline, create=there is None)
        _, missing = find(_listed(target, deadline), data.entries)
        if missing:
            raise IntegrityError(f"{target.label}: after the copy, snapshots are missing: {', '.join(missing[:5])}")
    return {"snapshots": len(data.refs), "copied": len(ids), "seconds": round(time.monotonic() - started, 3)}


def pull_data(data: ArchiveData, source: ResticRepo, deadline: float) -> dict[str, Any]:
    """Copy the archive's snapshots from ``source`` into the local data repository (created when missing)."""
    started = time.monotonic()
    repository = DataRepository(data.archive.parent)
    repository.adopt_key(data.key_file.read_bytes())  # a fresh machine opens its data with the archive's key
    local = repository.repo
    present = _snapshots(local, deadline, "list its snapshots") if repository.exists() else None
    already, _ = find(present or [], data.entries)
    todo = [e for e in data.entries if str(e.snapshot) not in already]
    if not todo:
        return {"snapshots": len(data.refs), "copied": 0, "seconds": round(time.monotonic() - started, 3)}
    remote_found, missing = find(_listed(source, deadline), todo)
    if missing:
        raise IntegrityError(f"{source.label}: the archive's data is not there: {', '.join(missing[:5])}",
                             hint="it was pushed without its data (an older k3s-dr), or the repository was pruned")
    if present is None:
        repository.path.mkdir(mode=0o700, exist_ok=True)
    _copy(source, local, sorted({s.id for s in remote_found.values()}), deadline, create=present is None)
    _, missing = find(_listed(local, deadline), data.entries)
    if missing:
        raise IntegrityError(f"{local.label}: after the copy, snapshots are missing: {', '.join(missing[:5])}")
    return {"snapshots": len(data.refs), "copied": len(todo), "seconds": round(time.monotonic() - started, 3)}


def prune_data(target: ResticRepo, kept_archives: Iterable[str], deadline: float) -> int:
    """Forget (and prune) the target's data snapshots of archives no longer kept there; how many went."""
    there = _snapshots(target, deadline, "list its snapshots")
    if there is None:
        return 0
    kept = set(kept_archives)
    doomed = [s.id for s in there if s.archive not in kept]
    if doomed:
        restic(target, ["forget", "--prune", *doomed], deadline=deadline, doing="forget data of removed archives",
               lock_wait=LOCK_WAIT)
    return len(doomed)
