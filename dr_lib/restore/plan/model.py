"""Value types of a restore plan: what an object is, where it goes, why it was left out, and the
archive-wide facts (:class:`ArchiveContext`) the rules for single objects need."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from dr_lib.jsontypes import JSONObject, encode_compact
from dr_lib.restore.plan.bodies import BodyStore


class ArchiveType(Protocol):
    """What the planner needs of an archive file entry (``dr_lib.archive``'s FileEntry fits)."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


@dataclass(frozen=True)
class TypeRef:
    """One REST resource type, as the archive names it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @classmethod
    def of(cls, entry: ArchiveType) -> TypeRef:
        return cls(entry.group, entry.version, entry.plural, entry.kind, bool(entry.namespaced))

    @cached_property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @cached_property
    def resource(self) -> str:
        """Group-qualified plural, the way kubectl and Velero name resources: ``deployments.apps``."""
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    @property
    def group_kind(self) -> str:
        return self.kind if not self.group else f"{self.kind}.{self.group}"


@dataclass(frozen=True, slots=True)  # slots: a plan of 100,000 objects holds 100,000 keys
class ObjectKey:
    """Identity of an object in a cluster (after any namespace mapping)."""

    resource: str  # deployments.apps
    namespace: str  # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.resource} {where}"


@dataclass(frozen=True)
class CrdType:
    group: str
    plural: str
    kind: str
    namespaced: bool
    versions: frozenset[str]


@dataclass(frozen=True)
class ArchiveContext:
    """Facts about the whole archive, collected before any object is judged (see ``context.build_context``)."""

    selector_services: frozenset[tuple[str, str]] = frozenset()  # (namespace, name)
    volume_names: frozenset[str] = frozenset()  # PersistentVolumes in the archive
    crd_types: dict[tuple[str, str], CrdType] = field(default_factory=dict)  # (group, plural)
    # Helm releases k3s's helm controller installs from HelmChart objects: (namespace, release name).
    k3s_chart_releases: frozenset[tuple[str, str]] = frozenset()


class PlannedObject:
    """A sanitized object ready to be sent, with the type it is sent to.

    Its body is kept as given, or — with ``store`` — encoded into the store at once and decoded
    from it whenever :attr:`body` is read (each read a fresh dict): a plan of 100,000 objects
    then holds their identities, not their bodies.
    """

    __slots__ = ("_body", "_handle", "_store", "implied", "key", "name", "namespace", "note", "type")

    def __init__(self, type: TypeRef, body: JSONObject, note: str = "", implied: bool = False, *,
                 store: BodyStore | None = None) -> None:
        self.type = type
        self.note = note  # why the object looks the way it does, when the planner made it (e.g. a namespace)
        # Made by the planner only as the home of restored objects: any existing one will do.
        self.implied = implied
        # Read from the finished body once: planning, ordering and the ledger ask for them often.
        meta = body.get("metadata") or {}
        self.namespace = str(meta.get("namespace") or "")
        self.name = str(meta.get("name") or "")
        self.key = ObjectKey(self.type.resource, self.namespace, self.name)
        self._store = store
        self._body: JSONObject = body if store is None else {}
        self._handle = -1 if store is None else store.add(encode_compact(body))

    @property
    def body(self) -> JSONObject:
        if self._store is None:
            return self._body
        body: JSONObject = json.loads(self._store.get(self._handle))
        return body

    @property
    def encoded(self) -> bytes:
        """The body's wire form (compact JSON), as the applier sends it."""
        if self._store is None:
            return encode_compact(self._body)
        return self._store.get(self._handle)

    def __repr__(self) -> str:
        return f"PlannedObject({self.key}{', implied' if self.implied else ''})"


@dataclass(frozen=True)
class LeftOut:
    """An archive object the plan does not restore, and the rule that said so."""

    key: ObjectKey
    kind: str
    reason: str


@dataclass
class Tier:
    """Objects restored together: a tier starts only after the previous one finished."""

    name: str
    reason: str
    objects: list[PlannedObject] = field(default_factory=list)


@dataclass
class Plan:
    tiers: list[Tier]
    left_out: list[LeftOut]
    context: ArchiveContext  # the archive-wide facts, to judge live objects the same way
    # Types neither built in to Kubernetes nor defined by a CRD in the archive: the applier
    # must find them served by the live API server, or refuse the archive.
    unresolved_types: list[TypeRef] = field(default_factory=list)

    def objects(self) -> list[PlannedObject]:
        return [obj for tier in self.tiers for obj in tier.objects]

    @property
    def count(self) -> int:
        return sum(len(tier.objects) for tier in self.tiers)


@dataclass(frozen=True)
class PlanOptions:
    """What the operator asked to restore, and how."""

    include_namespaces: frozenset[str] = frozenset()  # empty: all
    exclude_namespaces: frozenset[str] = frozenset()
    include_kinds: frozenset[str] = frozenset()  # kind, plural or plural.group, lower case; empty: all
    exclude_kinds: frozenset[str] = frozenset()
    namespace_mapping: tuple[tuple[str, str], ...] = ()
    # None: cluster-scoped objects come along unless the restore is limited to namespaces.
    include_cluster_scoped: bool | None = None
    preserve_node_ports: bool = False
    # TEST-ONLY (drills): resources whose per-kind sanitizer is skipped, to prove that a broken
    # restore fails the drill at the right step. Set only from restore's hidden --test-disable-sanitizer
    # (the drill passes it; refused with --auto and --datastore), never from the environment.
    disabled_sanitizers: frozenset[str] = frozenset()

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.namespace_mapping)
