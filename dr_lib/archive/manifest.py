"""``manifest.json``: what an archive claims to hold, as typed values.

Parsing is strict: an archive whose manifest is malformed, from a newer format version, or
whose counts do not add up is refused with an :class:`IntegrityError` naming the field, since
restore plans are built from the manifest before a single object is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.dataentry import DataEntry, data_from_manifest, data_to_manifest
from dr_lib.archive.userobjects import RULES_VERSION
from dr_lib.errors import IntegrityError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FileEntry:
    """One ``resources/*.yaml`` member: one kind, its objects and their checksum."""

    path: str
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    objects: int
    bytes: int
    sha256: str
    user_objects: int | None = None  # of ``objects``, those that are the user's (userobjects.py); None: not counted

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def resource(self) -> str:
        """``plural`` or ``plural.group``: how kubectl and our CLI name the kind."""
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "group": self.group, "version": self.version, "plural": self.plural,
                "kind": self.kind, "namespaced": self.namespaced, "objects": self.objects,
                "bytes": self.bytes, "sha256": self.sha256,
                **({} if self.user_objects is None else {"user_objects": self.user_objects})}


@dataclass(frozen=True)
class DatastoreEntry:
    """The k3s server datastore snapshot and the server token it cannot be used without."""

    kind: str  # "sqlite" | "etcd"
    path: str
    token_path: str
    sha256: str
    bytes: int
    token_sha256: str
    token_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "token_path": self.token_path, "sha256": self.sha256,
                "bytes": self.bytes, "token_sha256": self.token_sha256, "token_bytes": self.token_bytes}


@dataclass(frozen=True)
class ClusterIdentity:
    server: str
    kubernetes_version: str
    kube_system_uid: str

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "kubernetes_version": self.kubernetes_version,
                "kube_system_uid": self.kube_system_uid}


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    created: str
    cluster: ClusterIdentity
    files: tuple[FileEntry, ...]
    datastore: DatastoreEntry | None = None
    scope: Mapping[str, Any] = field(default_factory=dict)
    format: str = fmt.FORMAT_NAME
    format_version: int = fmt.FORMAT_VERSION
    data: tuple[DataEntry, ...] = ()  # application data members (dataentry.py), after the datastore
    data_failures: tuple[str, ...] = ()
    user_objects_rules: int | None = None  # the userobjects.RULES_VERSION files[].user_objects were counted by

    @property
    def objects(self) -> int:
        return sum(entry.objects for entry in self.files)

    @property
    def counts_current(self) -> bool:
        """Whether files[].user_objects were counted by the rules of this version (none: older archives)."""
        return self.user_objects_rules == RULES_VERSION and all(e.user_objects is not None for e in self.files)

    @property
    def user_objects(self) -> int | None:
        """User objects of all kinds by the current rules; None when the archive counted them otherwise
        (older versions counted bootstrap RBAC and k3s's add-ons) or not at all: recount its objects."""
        return sum(e.user_objects or 0 for e in self.files) if self.counts_current else None

    @property
    def created_at(self) -> datetime:
        return fmt.parse_time(self.created)

    def member_paths(self) -> list[str]:
        """Every member after ``manifest.json``, in archive order."""
        paths = [entry.path for entry in self.files]
        if self.datastore is not None:
            paths += [self.datastore.path, self.datastore.token_path]
        return paths + [entry.path for entry in self.data]

    def member_facts(self, member: str) -> tuple[int, str]:
        """(size, sha256) the manifest declares for ``member``."""
        for entry in self.files:
            if entry.path == member:
                return entry.bytes, entry.sha256
        datastore = self.datastore
        if datastore is not None and member == datastore.path:
            return datastore.bytes, datastore.sha256
        if datastore is not None and member == datastore.token_path:
            return datastore.token_bytes, datastore.token_sha256
        for data in self.data:
            if data.path == member:
                return data.bytes, data.sha256
        raise IntegrityError(f"member {member!r} is not in the manifest")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "format_version": self.format_version, "tool_version": self.tool_version,
            "created": self.created, "cluster": self.cluster.to_dict(),
            "files": [entry.to_dict() for entry in self.files], "objects": self.objects,
            "datastore": None if self.datastore is None else self.datastore.to_dict(),
            "scope": dict(self.scope), **data_to_manifest(self.data, self.data_failures),
            **({} if self.user_objects_rules is None else {"user_objects_rules": self.user_objects_rules}),
        }

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def _need(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise IntegrityError(f"manifest field {where}{key} is {fmt.shown(value)}: expected {names}")
    return value


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    value: int = _need(data, key, int, where)
    if value < 0:
        raise IntegrityError(f"manifest field {where}{key} is {value}: expected a count ≥ 0")
    return value


def _sha(data: Mapping[str, Any], key: str, where: str) -> str:
    value: str = _need(data, key, str, where)
    if _SHA256.match(value) is None:
        raise IntegrityError(f"manifest field {where}{key} is {fmt.shown(value)}: expected 64 lower-case hex digits")
    return value


def _file_entry(data: Any, index: int) -> FileEntry:
    where = f"files[{index}]."
    if not isinstance(data, Mapping):
        raise IntegrityError(f"manifest field files[{index}] is {type(data).__name__}: expected an object")
    entry = FileEntry(
        path=_need(data, "path", str, where), group=_need(data, "group", str, where),
        version=_need(data, "version", str, where), plural=_need(data, "plural", str, where),
        kind=_need(data, "kind", str, where), namespaced=_need(data, "namespaced", bool, where),
        objects=_count(data, "objects", where), bytes=_count(data, "bytes", where), sha256=_sha(data, "sha256", where),
        user_objects=None if data.get("user_objects") is None else _count(data, "user_objects", where),
    )
    if entry.user_objects is not None and entry.user_objects > entry.objects:
        raise IntegrityError(f"manifest {where}user_objects is {entry.user_objects}: more than its "
                             f"{entry.objects} objects")
    if not (fmt.is_safe_name(entry.plural) and (not entry.group or fmt.is_safe_name(entry.group))):
        raise IntegrityError(f"manifest {where}plural/group {fmt.shown(entry.plural)}/{fmt.shown(entry.group)} are "
                             "not resource names")
    if entry.path != fmt.resource_member(entry.group, entry.plural):
        raise IntegrityError(f"manifest {where}path {fmt.shown(entry.path)} should be "
                             f"{fmt.resource_member(entry.group, entry.plural)!r} for {entry.resource}")
    return entry


def _datastore(data: Any) -> DatastoreEntry | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise IntegrityError(f"manifest field datastore is {type(data).__name__}: expected an object or null")
    where = "datastore."
    entry = DatastoreEntry(
        kind=_need(data, "kind", str, where), path=_need(data, "path", str, where),
        token_path=_need(data, "token_path", str, where), sha256=_sha(data, "sha256", where),
        bytes=_count(data, "bytes", where), token_sha256=_sha(data, "token_sha256", where),
        token_bytes=_count(data, "token_bytes", where),
    )
    expected = fmt.SQLITE_MEMBER if entry.kind == "sqlite" else fmt.ETCD_MEMBER
    if entry.kind not in fmt.DATASTORE_KINDS or entry.path != expected or entry.token_path != fmt.TOKEN_MEMBER:
        raise IntegrityError(f"manifest datastore {fmt.shown(entry.kind)} at {fmt.shown(entry.path)}/"
                             f"{fmt.shown(entry.token_path)}: expected "
                             f"kind sqlite or etcd at {fmt.SQLITE_MEMBER!r} or {fmt.ETCD_MEMBER!r}, "
                             f"token at {fmt.TOKEN_MEMBER!r}")
    return entry


def _identity(data: Any) -> ClusterIdentity:
    if not isinstance(data, Mapping):
        raise IntegrityError(f"manifest field cluster is {type(data).__name__}: expected an object")
    where = "cluster."
    return ClusterIdentity(server=_need(data, "server", str, where),
                           kubernetes_version=_need(data, "kubernetes_version", str, where),
                           kube_system_uid=_need(data, "kube_system_uid", str, where))


def _rules_version(data: Mapping[str, Any]) -> int | None:
    if data.get("user_objects_rules") is None:
        return None
    version = _count(data, "user_objects_rules", "")
    if version < 1:
        raise IntegrityError(f"manifest field user_objects_rules is {version}: expected a version ≥ 1")
    return version


def manifest_from_dict(data: Any) -> Manifest:
    if not isinstance(data, Mapping):
        raise IntegrityError(f"manifest.json holds {type(data).__name__}: expected a JSON object")
    if data.get("format") != fmt.FORMAT_NAME:
        raise IntegrityError(f"manifest format is {fmt.shown(data.get('format'))}: expected {fmt.FORMAT_NAME!r}")
    version = data.get("format_version")
    if version != fmt.FORMAT_VERSION:
        raise IntegrityError(f"manifest format_version is {fmt.shown(version)}: this tool reads version "
                             f"{fmt.FORMAT_VERSION}",
                             hint="a newer k3s-dr wrote it" if isinstance(version, int) and version > 1 else None)
    created: str = _need(data, "created", str, "")
    try:
        fmt.parse_time(created)
    except ValueError:
        raise IntegrityError(f"manifest field created is {fmt.shown(created)}: expected UTC like "
                             "2026-01-31T12:00:00Z") from None
    files_raw = _need(data, "files", list, "")
    files = tuple(_file_entry(item, index) for index, item in enumerate(files_raw))
    data_entries, data_failures = data_from_manifest(data)
    manifest = Manifest(
        tool_version=_need(data, "tool_version", str, ""), created=created, cluster=_identity(data.get("cluster")),
        files=files, datastore=_datastore(data.get("datastore")), scope=_need(data, "scope", dict, ""),
        data=data_entries, data_failures=data_failures, user_objects_rules=_rules_version(data),
    )
    total = _count(data, "objects", "")
    if total != manifest.objects:
        raise IntegrityError(f"manifest says {total} objects but its files add up to {manifest.objects}")
    paths = manifest.member_paths()
    if len(set(paths)) != len(paths):
        raise IntegrityError("manifest lists the same member path twice")
    return manifest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two values for one key would let two readers see two manifests: refused."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise IntegrityError(f"manifest.json names the key {fmt.shown(key)} twice in one object")
            seen.add(key)
    return data


def _no_constant(name: str) -> Any:
    raise IntegrityError(f"manifest.json holds {name}, which JSON does not allow")


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest's bytes as a :class:`Manifest`; anything else is one IntegrityError line.

    Hostile input ends cleanly: invalid UTF-8, deep nesting (RecursionError in the decoder),
    numbers of more digits than Python converts, NaN/Infinity, keys given twice.
    """
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise IntegrityError("manifest.json is nested too deeply to be a manifest") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digits beyond the interpreter's limit
        raise IntegrityError(f"manifest.json is not valid JSON: {str(exc)[:200]}") from None
    try:
        return manifest_from_dict(data)
    except RecursionError:
        raise IntegrityError("manifest.json is nested too deeply to be a manifest") from None
