"""The seed's archives (``k3s-cluster-backup-1.tar.gz``, ``-2.tar.gz``), read into the same object stream.

The scripts k3s-dr replaces wrote, every hour, a ``tar czf`` of one YAML file per kind — the output
of ``kubectl get <kind> -A -o yaml``: a ``kind: List`` whose ``items`` are the objects — under one
directory, and rotated them by renaming ``-1`` to ``-2``. Such an archive has no manifest, no
checksums and no signature: nothing proves it is what the scripts wrote. What *can* be checked is
checked, and said: its structure (regular files and directories with safe names, bounded sizes,
no links), that every YAML file parses under :mod:`.yamlsafe`'s limits into lists of objects each
with an apiVersion, a kind and a name, and the object count of each kind. Restore then plans these
objects like any others (sanitizing, order, ledger); the planner checks them again.

Only files named like the seed's (:data:`LEGACY_NAME`) are read this way: an archive named like ours
is never taken for a legacy one, so a k3s-dr archive stripped of its manifest cannot pass as one.
The auto-restore never restores a legacy archive (``dr_lib.restore.trust`` accepts only ours).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from dr_lib.archive import format as fmt
from dr_lib.archive.access import VerifyResult
from dr_lib.archive.manifest import ClusterIdentity, FileEntry, Manifest
from dr_lib.archive.reader import check_member_name, hashed
from dr_lib.archive.tarstream import TarStream
from dr_lib.archive.userobjects import count_user_objects
from dr_lib.archive.yamlsafe import load_documents
from dr_lib.clock import monotonic
from dr_lib.errors import IntegrityError

LEGACY_NAME = re.compile(r"^k3s-cluster-backup-(\d{1,6})\.tar\.gz$")
LEGACY_FORMAT = "legacy-kubectl-yaml"
MAX_MEMBERS = 500  # the seed wrote 19 files
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one kind's list, read whole to parse it
MAX_TOTAL_BYTES = 128 * 1024 * 1024  # all of it is held as objects while restore plans them
MAX_RATIO = fmt.MAX_COMPRESSION_RATIO
RATIO_AFTER = 16 * 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml")
DIRECTORY = b"5"
CHECKED = ("structure: regular files and directories only, safe names, bounded sizes",
           "YAML: every file parses (no anchors, aliases, tags or deep nesting) into kubectl lists of objects",
           "objects: each has an apiVersion, a kind of a known type and a name; counted per kind")
NOT_CHECKED = ("checksums: the seed's scripts wrote no sha256 manifest, so corruption inside a file that still "
               "parses cannot be seen", "signature: unsigned; nothing proves who wrote it")

# (group, kind) → (plural, namespaced) for a built-in type, or None: given by the caller (the restore
# layer's table of built-in types), extended by the CustomResourceDefinitions the archive holds.
TypeTable = Callable[[str, str], tuple[str, bool] | None]


def is_legacy_name(name: str) -> bool:
    return LEGACY_NAME.match(name) is not None


def is_legacy_archive(path: str | Path) -> bool:
    """A file named like the seed's archives (links resolved: the seed's own links name them)."""
    return is_legacy_name(Path(path).resolve().name)


@dataclass(frozen=True)
class LegacyType:
    """One type of the archive's objects (the planner's ArchiveType)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool


class _Members:
    """The archive's YAML members, each read whole (bounded), the rest read through and counted."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.raw = hashed(handle)  # the whole file's sha256: what the ledger names
        self.skipped: list[str] = []

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        raw = self.raw
        unpacked = hashed(cast(IO[bytes], gzip.GzipFile(fileobj=raw.as_io(), mode="rb")))
        tar = TarStream(unpacked.as_io())
        count = 0
        while (member := tar.next()) is not None:
            count += 1
            if count > MAX_MEMBERS:
                raise IntegrityError(f"more than {MAX_MEMBERS} members: not an archive of the seed's scripts")
            name = member.name.rstrip("/") if member.type == DIRECTORY else member.name
            check_member_name(name)
            if member.type == DIRECTORY:
                continue
            if not member.regular:
                raise IntegrityError(f"member {name!r} is {member.describe()}; only files and directories are allowed")
            if member.size > MAX_MEMBER_BYTES:
                raise IntegrityError(f"member {name!r} is {member.size} bytes; the limit is {MAX_MEMBER_BYTES}")
            data = tar.member_reader(member).read()
            if unpacked.count > MAX_TOTAL_BYTES or (unpacked.count > RATIO_AFTER and
                                                    unpacked.count > MAX_RATIO * max(raw.count, 1)):
                raise IntegrityError(f"expands to {unpacked.count} bytes from {raw.count}: refusing a likely gzip "
                                     "bomb")
            if name.endswith(YAML_SUFFIXES):
                yield name, data
            else:
                self.skipped.append(name)
        while raw.read(1024 * 1024):
            pass


def _items(document: Any, where: str) -> list[Any]:
    if document is None:
        return []
    if not isinstance(document, dict):
        raise IntegrityError(f"{where} holds a {type(document).__name__}, not a kubectl list or object")
    if str(document.get("kind", "")).endswith("List") and "items" in document:
        items = document["items"]
        if not isinstance(items, list):
            raise IntegrityError(f"{where}: the list's items are not a list")
        return items
    return [document]


def _object_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"an item is a {type(obj).__name__}, not an object"
    api_version, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if not (isinstance(api_version, str) and isinstance(kind, str) and api_version and kind):
        return "an item has no apiVersion or kind"
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return f"a {kind[:60]} has no metadata.name"
    return None


def _crd_types(objects: list[tuple[str, dict[str, Any]]]) -> dict[tuple[str, str], tuple[str, bool]]:
    """The types the archive's CustomResourceDefinitions define."""
    found = {}
    for _where, obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec")
        names = spec.get("names") if isinstance(spec, dict) else None
        if not (isinstance(spec, dict) and isinstance(names, dict)):
            continue
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str):
            found[(group, kind)] = (plural, spec.get("scope") != "Cluster")
    return found


@dataclass(frozen=True)
class LegacyArchive:
    """What was read and checked: the objects with their types, and the archive's facts."""

    verified: VerifyResult
    objects: tuple[tuple[LegacyType, dict[str, Any]], ...]
    skipped: tuple[str, ...]  # members that are not YAML: read through, not used


def _typed(objects: list[tuple[str, dict[str, Any]]], builtin: TypeTable) -> list[tuple[LegacyType, dict[str, Any]]]:
    crds = _crd_types(objects)
    typed, unknown = [], Counter[str]()
    for _where, obj in objects:
        group, _, version = obj["apiVersion"].rpartition("/")
        known = builtin(group, obj["kind"]) or crds.get((group, obj["kind"]))
        if known is None:
            unknown[f"{obj['apiVersion']} {obj['kind']}"[:100]] += 1
            continue
        typed.append((LegacyType(group, version, known[0], obj["kind"], known[1]), obj))
    if unknown:
        shown = ", ".join(f"{n} × {what}" for what, n in unknown.most_common(5))
        raise IntegrityError(f"objects of types neither built in nor defined by the archive's CRDs: {shown}")
    return typed


def _entries(path: Path, typed: list[tuple[LegacyType, dict[str, Any]]]) -> tuple[FileEntry, ...]:
    counts = Counter(t for t, _obj in typed)
    users = Counter[LegacyType]()
    for legacy_type in counts:
        resource = legacy_type.plural if not legacy_type.group else f"{legacy_type.plural}.{legacy_type.group}"
        users[legacy_type] = count_user_objects(resource, (obj for t, obj in typed if t == legacy_type))
    return tuple(FileEntry(path.name, t.group, t.version, t.plural, t.kind, t.namespaced, n, 0, "",
                           user_objects=users[t]) for t, n in sorted(counts.items(), key=lambda i: i[0].plural))


def _read_objects(handle: IO[bytes]) -> tuple[_Members, list[tuple[str, dict[str, Any]]]]:
    members = _Members(handle)
    objects: list[tuple[str, dict[str, Any]]] = []
    for name, data in members:
        for index, document in enumerate(load_documents(data, name), start=1):
            for obj in _items(document, f"{name} document {index}"):
                problem = _object_problem(obj)
                if problem:
                    raise IntegrityError(f"{name}: {problem}")
                objects.append((name, obj))
    return members, objects


def read_legacy(path: str | Path, builtin: TypeTable) -> LegacyArchive:
    """Read and check a legacy archive whole; :class:`IntegrityError` naming the first problem."""
    archive = Path(path)
    started = monotonic()
    try:
        with archive.open("rb") as handle:
            members, objects = _read_objects(handle)
    except IntegrityError as exc:
        raise IntegrityError(f"legacy archive {archive}: {exc.message}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IntegrityError(f"legacy archive {archive}: not a readable tar.gz: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise IntegrityError(f"legacy archive {archive}: cannot be read: {exc.strerror or exc}") from None
    try:
        typed = _typed(objects, builtin)
    except IntegrityError as exc:
        raise IntegrityError(f"legacy archive {archive}: {exc.message}") from None
    entries = _entries(archive, typed)
    created = datetime.fromtimestamp(archive.stat().st_mtime, UTC)
    manifest = Manifest(tool_version="the seed's scripts", created=fmt.format_time(created),
                        cluster=ClusterIdentity("", "", ""), files=entries, format=LEGACY_FORMAT, format_version=0,
                        scope={"legacy": True}, user_objects_rules=None)
    user_objects = sum(e.user_objects or 0 for e in entries)
    verified = VerifyResult(archive, members.raw.sha.hexdigest(), members.raw.count, manifest,
                            monotonic() - started, user_objects)
    return LegacyArchive(verified, tuple(typed), tuple(members.skipped))


def iter_legacy_objects(legacy: LegacyArchive) -> Iterator[tuple[LegacyType, dict[str, Any]]]:
    """The objects, in the archive's order: the stream restore plans (each a fresh copy: the planner edits)."""
    for legacy_type, obj in legacy.objects:
        yield legacy_type, _copy(obj)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
