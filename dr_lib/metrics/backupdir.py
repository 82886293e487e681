"""What the backup directory holds right now, read at scrape time (the files are the truth).

Every archive's manifest is read (the first member: cheap) and, when it has a sidecar, its
sha256 compared with the sidecar's; results are cached per file identity (inode, size, mtime)
so a long-running exporter reads and hashes each archive once. Problems never raise: an
unreadable directory or a corrupt archive becomes a fact the metrics report.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dr_lib.archive import format as fmt
from dr_lib.archive.access import object_counts, read_manifest
from dr_lib.archive.links import LinkState, read_link
from dr_lib.archive.sidecar import read_sidecar
from dr_lib.atomic import sha256_file
from dr_lib.errors import DRError

MAX_ARCHIVES_INSPECTED = 50  # rotation keeps a handful; never let a flooded directory stall a scrape
CACHE_LIMIT = 200
# Each failure a backup records names the pod first ("… of pod shop/db-0 …", "pod shop/db-0: …"): the
# pod's labels. The manifest is input like any other: only Kubernetes names become label values.
_FAILED_POD = re.compile(r"\bpod ([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)\b")


@dataclass(frozen=True)
class ArchiveFacts:
    name: str
    bytes: int
    created: float | None  # epoch seconds: the manifest's time, else the file name's
    problem: str = ""  # why the archive cannot be read ("" when it can)
    verified: bool = False  # a sidecar whose sha256 is the file's sha256 now
    kinds: Mapping[str, int] = field(default_factory=dict)
    datastore: bool = False
    data_failures: tuple[str, ...] = ()  # application data the backup could not capture (on-error=continue)

    @property
    def readable(self) -> bool:
        return not self.problem

    def failed_pods(self) -> dict[tuple[str, str], int]:
        """Failures per (namespace, pod) they name; ("", "") for one that names no pod."""
        return dict(Counter(failed_pod(text) for text in self.data_failures))


def failed_pod(failure: str) -> tuple[str, str]:
    match = _FAILED_POD.search(failure)
    return ("", "") if match is None else (match.group(1), match.group(3))


@dataclass(frozen=True)
class DirFacts:
    directory: str
    problem: str = ""  # why the directory cannot be listed ("" when it can)
    archives: tuple[ArchiveFacts, ...] = ()  # newest first
    latest: ArchiveFacts | None = None  # what the latest link points at (else the newest verified)
    latest_link: str = "missing"  # the link's state: ok | missing | dangling | not-a-link | outside
    count: int = 0  # archives in the directory (also those past MAX_ARCHIVES_INSPECTED)

    @property
    def readable(self) -> bool:
        return not self.problem


Identity = tuple[str, int, int, int]


class ArchiveCache:
    """Archive facts by file identity; a rewritten or replaced file is read again."""

    def __init__(self) -> None:
        self._facts: dict[Identity, ArchiveFacts] = {}

    def get(self, key: Identity) -> ArchiveFacts | None:
        return self._facts.get(key)

    def put(self, key: Identity, facts: ArchiveFacts) -> None:
        if len(self._facts) >= CACHE_LIMIT:
            self._facts.clear()
        self._facts[key] = facts


def inspect_archive(path: Path, size: int) -> ArchiveFacts:
    named = fmt.archive_time(path.name)
    fallback = named.timestamp() if named else None
    try:
        manifest = read_manifest(path)
    except DRError as exc:
        return ArchiveFacts(path.name, size, fallback, problem=exc.message)
    try:
        created: float | None = manifest.created_at.timestamp()
    except ValueError:
        created = fallback
    sidecar = read_sidecar(path)
    verified = False
    if sidecar is not None and sidecar.archive == path.name and sidecar.bytes == size:
        try:
            verified = sha256_file(path) == sidecar.sha256
        except OSError as exc:
            return ArchiveFacts(path.name, size, created, problem=f"cannot be read: {exc.strerror}")
    return ArchiveFacts(path.name, size, created, verified=verified, kinds=object_counts(manifest),
                        datastore=manifest.datastore is not None, data_failures=manifest.data_failures)


def scan(directory: Path, latest_link: str, cache: ArchiveCache | None = None) -> DirFacts:
    cache = cache if cache is not None else ArchiveCache()
    try:
        names = sorted((p.name for p in directory.iterdir() if fmt.ARCHIVE_NAME.match(p.name)), reverse=True)
    except OSError as exc:
        return DirFacts(str(directory), problem=f"cannot list {str(directory)!r}: {exc.strerror}")
    archives: list[ArchiveFacts] = []
    for name in names[:MAX_ARCHIVES_INSPECTED]:
        path = directory / name
        try:
            info = path.lstat()
        except OSError:
            continue  # rotated away while we looked
        if not path.is_file() or path.is_symlink():
            continue
        key = (name, info.st_ino, info.st_size, info.st_mtime_ns)
        facts = cache.get(key)
        if facts is None:
            facts = inspect_archive(path, info.st_size)
            cache.put(key, facts)
        archives.append(facts)
    archives.sort(key=lambda a: (a.created or 0.0, a.name), reverse=True)
    try:
        link = read_link(directory, latest_link)
    except OSError:
        link = LinkState(latest_link, "missing", None)
    latest = next((a for a in archives if a.name == link.target), None) if link.state == "ok" else None
    if latest is None:
        latest = next((a for a in archives if a.verified), None)
    return DirFacts(str(directory), archives=tuple(archives), latest=latest, latest_link=link.state,
                    count=len(names))
