"""The planner: a stream of archive objects in, ordered tiers of sanitized objects out.

Pure: no I/O, no clock. It reads the objects twice, so that memory holds facts, not objects:
first it checks that every object is what its archive file says it is (a forged archive can
claim anything) and collects the archive-wide facts; then it judges each object — never-restore
rules, the operator's filters, sanitizers, namespace mapping — and files it into its tier, its
body encoded into the plan's :class:`~dr_lib.restore.plan.bodies.BodyStore`. Every object that
is not restored is listed with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dr_lib.errors import IntegrityError
from dr_lib.jsontypes import JSONObject
from dr_lib.restore.plan.bodies import BodyStore, MemoryBodies
from dr_lib.restore.plan.builtin import BUILTIN_TYPES
from dr_lib.restore.plan.context import build_context
from dr_lib.restore.plan.filters import filter_reason, map_namespaces
from dr_lib.restore.plan.model import (
    ArchiveContext,
    ArchiveType,
    LeftOut,
    ObjectKey,
    Plan,
    PlannedObject,
    PlanOptions,
    Tier,
    TypeRef,
)
from dr_lib.restore.plan.never import never_restore_reason
from dr_lib.restore.plan.order import ORDER, tier_of
from dr_lib.restore.plan.sanitize import sanitize

MAX_PROBLEMS_SHOWN = 5
_NAMESPACE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE_TYPE = TypeRef("", "v1", "namespaces", "Namespace", namespaced=False)


def _name_problem(name: Any) -> str | None:
    """Names go into URL paths: refuse what could address anything but the object itself."""
    if not isinstance(name, str) or not name:
        return "has no metadata.name"
    if len(name) > 253 or name in (".", "..") or any(c in name for c in "/%?#\\") or not name.isprintable():
        return f"has the unusable name {name[:60]!r}"
    return None


def _scope_problem(type_ref: TypeRef, context: ArchiveContext) -> str | None:
    builtin = BUILTIN_TYPES.get((type_ref.group, type_ref.plural))
    crd = context.crd_types.get((type_ref.group, type_ref.plural))
    truth = builtin or crd
    if truth is None:
        return None
    if truth.kind != type_ref.kind:
        return f"claims {type_ref.resource} hold kind {type_ref.kind}, but they hold {truth.kind}"
    if truth.namespaced != type_ref.namespaced:
        scope = "namespaced" if truth.namespaced else "cluster-scoped"
        return f"claims {type_ref.resource} are {'' if type_ref.namespaced else 'not '}namespaced, but they are {scope}"
    return None


def _object_problem(type_ref: TypeRef, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"holds a {type(obj).__name__} instead of an object"
    if obj.get("apiVersion") != type_ref.api_version or obj.get("kind") != type_ref.kind:
        return (f"holds {obj.get('apiVersion')}/{obj.get('kind')} among "
                f"{type_ref.api_version}/{type_ref.kind} objects")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "holds an object without metadata"
    problem = _name_problem(meta.get("name"))
    if problem:
        return problem
    namespace = meta.get("namespace")
    if type_ref.namespaced and not (isinstance(namespace, str) and _NAMESPACE_NAME.match(namespace)):
        return f"holds {meta['name']!r} with no valid namespace, though {type_ref.resource} are namespaced"
    if not type_ref.namespaced and namespace:
        return f"holds {meta['name']!r} in namespace {namespace!r}, though {type_ref.resource} are cluster-scoped"
    return None


Stream = Iterable[tuple[ArchiveType, JSONObject]]
# A plan reads the archive twice: the archive-wide facts first, then each object is judged, and
# only what is kept of it stays (its body in the plan's BodyStore). A caller with the objects in
# memory passes them as an iterable, read twice from a list.
Source = Stream | Callable[[], Stream]


def _opener(source: Source) -> Callable[[], Stream]:
    if callable(source):
        return source
    items = list(source)
    return lambda: items


class _Types:
    """One TypeRef per type, so that its cached properties are computed once."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str, str, bool], TypeRef] = {}

    def of(self, entry: ArchiveType) -> TypeRef:
        type_ref = TypeRef.of(entry)
        return self._types.setdefault((type_ref.group, type_ref.version, type_ref.plural, type_ref.kind,
                                       type_ref.namespaced), type_ref)


def _survey(stream: Stream, types: _Types) -> tuple[ArchiveContext, set[TypeRef]]:
    """The archive-wide facts; IntegrityError, naming every problem, when an object is not what its
    file claims to hold."""
    problems: list[str] = []
    valid: set[TypeRef] = set()

    def checked() -> Iterator[tuple[TypeRef, JSONObject]]:
        for number, (entry, obj) in enumerate(stream, start=1):
            type_ref = types.of(entry)
            problem = _object_problem(type_ref, obj)
            if problem:
                problems.append(f"{type_ref.resource}: object #{number} {problem}")
                continue
            valid.add(type_ref)
            yield type_ref, obj

    context = build_context(checked())
    for type_ref in valid:
        problem = _scope_problem(type_ref, context)
        if problem:
            problems.append(f"the archive {problem} (a disguised or corrupt archive)")
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = f" (and {len(problems) - MAX_PROBLEMS_SHOWN} more)" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        raise IntegrityError(f"{shown}{more}")
    return context, valid


def _left_out(type_ref: TypeRef, obj: JSONObject, reason: str) -> LeftOut:
    meta = obj["metadata"]
    return LeftOut(ObjectKey(type_ref.resource, str(meta.get("namespace") or ""), str(meta["name"])),
                   type_ref.kind, reason)


def _add_missing_namespaces(tiers: dict[str, Tier], mapping: dict[str, str]) -> None:
    """Objects can name a namespace the archive (or the filter) does not bring: create it."""
    planned = {obj.name for obj in tiers["namespaces"].objects}
    needed = sorted({obj.namespace for tier in tiers.values() for obj in tier.objects if obj.type.namespaced})
    for namespace in needed:
        if namespace not in planned:
            sources = [old for old, new in mapping.items() if new == namespace]
            note = (f"mapped from {', '.join(sources)}" if sources else "not among the restored objects") + \
                "; created because restored objects live in it"
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            tiers["namespaces"].objects.append(PlannedObject(_NAMESPACE_TYPE, body, note, implied=True))


def build_plan(source: Source, options: PlanOptions | None = None, *, bodies: BodyStore | None = None) -> Plan:
    """Order and sanitize a whole archive. Raises IntegrityError, before anything is applied, when an
    object is not what its file claims.

    ``source`` gives the archive's objects: an iterable, or a function that streams them anew
    (called twice). Planned bodies go to ``bodies`` (in memory when None).
    """
    options = options or PlanOptions()
    read = _opener(source)
    types = _Types()
    context, surveyed = _survey(read(), types)
    store = bodies if bodies is not None else MemoryBodies()
    mapping = options.mapping
    tiers = {rule.name: Tier(rule.name, rule.reason) for rule in ORDER}
    left_out: list[LeftOut] = []
    unresolved: dict[TypeRef, None] = {}
    seen: set[ObjectKey] = set()
    for number, (entry, obj) in enumerate(read(), start=1):
        type_ref = types.of(entry)
        problem = _object_problem(type_ref, obj) or (None if type_ref in surveyed else "is of a type the first "
                                                     "read did not see")
        if problem:  # the survey read it whole: a second read that differs means the archive changed
            raise IntegrityError(f"{type_ref.resource}: object #{number} {problem} (the archive changed while "
                                 "it was read)")
        reason = never_restore_reason(type_ref, obj, context) or filter_reason(type_ref, obj, options)
        if reason is not None:
            left_out.append(_left_out(type_ref, obj, reason))
            continue
        sanitize(type_ref, obj, context, options)
        map_namespaces(type_ref, obj, mapping)
        planned = PlannedObject(type_ref, obj, store=store)
        if planned.key in seen:
            left_out.append(_left_out(type_ref, obj, "the same object appears earlier in the archive"))
            continue
        seen.add(planned.key)
        builtin = (type_ref.group, type_ref.plural) in BUILTIN_TYPES
        if not builtin and (type_ref.group, type_ref.plural) not in context.crd_types:
            unresolved[type_ref] = None
        tiers[tier_of(type_ref.resource, builtin)].objects.append(planned)
    _add_missing_namespaces(tiers, mapping)
    for tier in tiers.values():
        tier.objects.sort(key=lambda o: (o.type.resource, o.namespace, o.name))
    return Plan([tier for tier in tiers.values() if tier.objects], left_out, context, list(unresolved))
