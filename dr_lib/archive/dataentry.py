"""Application data an archive carries or references: hook dumps and volume copies.

Two stores (see docs/archive-format.md):

* ``archive`` (format v1, read only now): the data is a member of the archive itself —
  ``data/hooks/<namespace>/<pod>/<hook>.dump`` or ``data/volumes/<namespace>/<name>.tar``
  (an uncompressed tar inside the compressed archive). ``bytes``/``sha256`` are the member's.
* ``restic`` (format v2): the data is a snapshot in the backup directory's data repository
  (restic, content-addressed and deduplicated). The entry names the snapshot (``snapshot``:
  its full id, persistent across ``restic copy``), the snapshot's root ``tree`` id (content
  addressed: it pins every byte below it), the ``source`` path inside the snapshot and our own
  digest of the content: for a dump ``sha256``/``bytes`` of the dump, for a volume the tree
  digest (``sha256`` = ``meta.tree_sha256``) and ``bytes`` = its content bytes. The manifest
  also names the repository key member (``data_repository``), so a signature over the manifest
  covers everything a restore reads.

``meta`` says how to put the data back (namespace, pod, volume, node path, preset…) and never
holds a command or a secret. ``data_failures`` says what a backup could not capture and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dr_lib.archive.format import shown
from dr_lib.errors import IntegrityError

DATA_DIR = "data"
HOOK_DUMP = "hook-dump"
VOLUME = "volume"
DATA_KINDS = (HOOK_DUMP, VOLUME)
ARCHIVE_STORE = "archive"  # a member of this archive (format v1)
RESTIC_STORE = "restic"  # a snapshot in the data repository (format v2)
STORES = (ARCHIVE_STORE, RESTIC_STORE)
REPOSITORY_KEY_MEMBER = f"{DATA_DIR}/repository.key"
REPOSITORY_ENGINE = "restic"

# Lower-case Kubernetes names only: no "..", no empty or hidden components, no absolute path.
_DATA_MEMBER = re.compile(r"^data/(hooks|volumes)(/[a-z0-9][a-z0-9._-]{0,252}){1,3}\.(dump|tar|zfs|dir)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# What each store may name: archive members are files of this archive; snapshots hold dumps,
# ZFS streams and directories.
_SUFFIXES = {ARCHIVE_STORE: (".dump", ".tar", ".zfs"), RESTIC_STORE: (".dump", ".dir", ".zfs")}


def is_data_member(path: str) -> bool:
    return _DATA_MEMBER.match(path) is not None and "/../" not in path and ".." not in path.split("/")


def hook_member(namespace: str, pod: str, hook: str) -> str:
    return f"{DATA_DIR}/hooks/{namespace}/{pod}/{hook}.dump"


def volume_member(namespace: str, name: str, suffix: str = "dir") -> str:
    return f"{DATA_DIR}/volumes/{namespace}/{name}.{suffix}"


def is_plain_absolute(text: Any) -> bool:
    """An absolute POSIX path without '.', '..', empty components or a trailing slash."""
    if not isinstance(text, str) or not text.startswith("/") or text == "/" or text.startswith("//") \
            or "\0" in text:
        return False  # (PurePosixPath keeps a leading "//": POSIX leaves its meaning to the system)
    return str(PurePosixPath(text)) == text and ".." not in text.split("/")


@dataclass(frozen=True)
class DataEntry:
    """One item of application data: what it is, where it lives, its digest, and how to put it back."""

    path: str
    kind: str  # HOOK_DUMP | VOLUME
    bytes: int
    sha256: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    store: str = ARCHIVE_STORE
    snapshot: str | None = None  # restic store: the snapshot's persistent id (its ``original`` after a copy)
    tree: str | None = None  # restic store: the snapshot's root tree id
    source: str | None = None  # restic store: the path inside the snapshot

    @property
    def in_archive(self) -> bool:
        return self.store == ARCHIVE_STORE

    def to_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "kind": self.kind, "bytes": self.bytes, "sha256": self.sha256,
               "meta": dict(self.meta)}
        if not self.in_archive:
            out |= {"store": self.store, "snapshot": self.snapshot, "tree": self.tree, "source": self.source}
        return out


def _hex(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or _SHA256.match(value) is None:
        raise IntegrityError(f"{where}.{key} is {shown(value)}: expected 64 lower-case hex digits")
    return value


def data_entry_from_dict(data: Any, index: int) -> DataEntry:
    where = f"manifest field data[{index}]"
    if not isinstance(data, Mapping):
        raise IntegrityError(f"{where} is {type(data).__name__}: expected an object")
    path, kind, size, sha, meta = (data.get(k) for k in ("path", "kind", "bytes", "sha256", "meta"))
    store = data.get("store", ARCHIVE_STORE)
    if store not in STORES:
        raise IntegrityError(f"{where}.store is {shown(store)}: expected one of {', '.join(STORES)}")
    if not isinstance(path, str) or not is_data_member(path) or not path.endswith(_SUFFIXES[store]):
        raise IntegrityError(f"{where}.path is {shown(path)}: expected data/hooks/<ns>/<pod>/<hook>.dump or "
                             f"data/volumes/<ns>/<name>{'|'.join(_SUFFIXES[store])} with lower-case names")
    if kind not in DATA_KINDS:
        raise IntegrityError(f"{where}.kind is {shown(kind)}: expected one of {', '.join(DATA_KINDS)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise IntegrityError(f"{where}.bytes is {shown(size)}: expected a count ≥ 0")
    sha = _hex(where, "sha256", sha)
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise IntegrityError(f"{where}.meta is {type(meta).__name__}: expected an object")
    if store == ARCHIVE_STORE:
        return DataEntry(path, kind, size, sha, dict(meta))
    source = data.get("source")
    if not is_plain_absolute(source):
        raise IntegrityError(f"{where}.source is {shown(source)}: expected a plain absolute path inside the "
                             "snapshot")
    return DataEntry(path, kind, size, sha, dict(meta), store, _hex(where, "snapshot", data.get("snapshot")),
                     _hex(where, "tree", data.get("tree")), source)


@dataclass(frozen=True)
class RepositoryRef:
    """The data repository an archive's ``restic`` entries live in, and its key (a member of the archive)."""

    key_sha256: str
    key_bytes: int
    key_path: str = REPOSITORY_KEY_MEMBER
    engine: str = REPOSITORY_ENGINE

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "key_path": self.key_path, "key_sha256": self.key_sha256,
                "key_bytes": self.key_bytes}


def repository_from_manifest(data: Mapping[str, Any]) -> RepositoryRef | None:
    raw = data.get("data_repository")
    if raw is None:
        return None
    where = "manifest field data_repository"
    if not isinstance(raw, Mapping):
        raise IntegrityError(f"{where} is {type(raw).__name__}: expected an object or null")
    if raw.get("engine") != REPOSITORY_ENGINE or raw.get("key_path") != REPOSITORY_KEY_MEMBER:
        raise IntegrityError(f"{where}: engine {shown(raw.get('engine'))} with key {shown(raw.get('key_path'))}: "
                             f"expected {REPOSITORY_ENGINE!r} with {REPOSITORY_KEY_MEMBER!r}")
    size = raw.get("key_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= 4096:
        raise IntegrityError(f"{where}.key_bytes is {shown(size)}: expected 1..4096")
    return RepositoryRef(_hex(where, "key_sha256", raw.get("key_sha256")), size)


def data_from_manifest(data: Mapping[str, Any]) -> tuple[tuple[DataEntry, ...], tuple[str, ...]]:
    """The optional ``data`` and ``data_failures`` fields (absent in archives without application data)."""
    raw = data.get("data", [])
    if not isinstance(raw, list):
        raise IntegrityError(f"manifest field data is {type(raw).__name__}: expected a list")
    failures = data.get("data_failures", [])
    if not isinstance(failures, list) or not all(isinstance(f, str) for f in failures):
        raise IntegrityError("manifest field data_failures: expected a list of strings")
    return tuple(data_entry_from_dict(item, i) for i, item in enumerate(raw)), tuple(failures)


def data_to_manifest(entries: tuple[DataEntry, ...], failures: tuple[str, ...],
                     repository: RepositoryRef | None = None) -> dict[str, Any]:
    """The manifest fields, present only when there is something to say (older readers see no change)."""
    out: dict[str, Any] = {}
    if entries:
        out["data"] = [entry.to_dict() for entry in entries]
    if failures:
        out["data_failures"] = list(failures)
    if repository is not None:
        out["data_repository"] = repository.to_dict()
    return out


@dataclass(frozen=True)
class DataContext:
    """What a data collector needs to know about the backup it feeds (passed in by the backup run)."""

    directory: Path  # the backup directory: the data repository lives in it
    archive_name: str  # the archive this backup will write (snapshots are tagged with it)
    created: str  # the archive's time (manifest ``created``): the snapshots' time


@dataclass(frozen=True)
class CollectedData:
    """What a data collector (hooks, volume copies) hands a backup: entries, their sources, a report.

    ``members`` pairs each archive-store entry with the spooled file holding its bytes (none in
    format v2: data lives in the repository); ``entries`` lists every entry for the manifest;
    ``repository`` and ``key_file`` name the data repository's key member when entries live there.
    ``report`` is JSON for the backup's result with no secret in it.
    """

    members: tuple[tuple[DataEntry, Path], ...] = ()  # (entry, the spooled file)
    failures: tuple[str, ...] = ()
    report: Mapping[str, Any] = field(default_factory=dict)
    stored: tuple[DataEntry, ...] = ()  # entries whose data lives in the repository
    repository: RepositoryRef | None = None
    key_file: Path | None = None

    @property
    def entries(self) -> tuple[DataEntry, ...]:
        return tuple(entry for entry, _path in self.members) + self.stored

    @property
    def partial(self) -> bool:
        return bool(self.failures)
