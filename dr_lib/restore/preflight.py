"""Checks against the live API server before anything is written.

The plan names types; the live server says which it serves, with which kind and scope. An
object whose type neither the server nor a CRD in the archive provides cannot be restored,
and a type whose scope differs from what the archive claims betrays a forged archive: both
refuse the whole restore, before the first write.
"""

from __future__ import annotations

from dataclasses import dataclass

from dr_lib.errors import ClusterError, IntegrityError
from dr_lib.kube.writing import Writer
from dr_lib.restore.objects import group_version_path
from dr_lib.restore.plan import ArchiveContext, Plan, TypeRef

MAX_SHOWN = 5


@dataclass(frozen=True)
class ServedType:
    kind: str
    namespaced: bool


@dataclass(frozen=True)
class Preflight:
    served: dict[str, ServedType]  # resource (plural.group) → kind and scope, for the plan's group versions
    live_namespaces: frozenset[str]
    absent_namespaces: frozenset[str]  # namespaces of the plan that do not exist live
    unserved_resources: frozenset[str]  # types whose CRD comes with the archive but is not served yet


def _discover(writer: Writer, type_ref: TypeRef) -> dict[str, ServedType]:
    response = writer.get(group_version_path(type_ref))
    if response.status == 404:
        return {}
    if not response.ok:
        raise ClusterError(f"discovery of {type_ref.api_version} on {writer.server} failed: {response.reason}")
    served: dict[str, ServedType] = {}
    for resource in response.body.get("resources") or []:
        name = str(resource.get("name", ""))
        if name and "/" not in name:  # subresources (pods/log) are not types
            key = name if not type_ref.group else f"{name}.{type_ref.group}"
            served[key] = ServedType(str(resource.get("kind", "")), bool(resource.get("namespaced")))
    return served


def _live_namespaces(writer: Writer) -> frozenset[str]:
    response = writer.get("/api/v1/namespaces")
    if not response.ok:
        raise ClusterError(f"listing namespaces on {writer.server} failed: {response.reason}")
    return frozenset(str(item["metadata"]["name"]) for item in response.body.get("items") or [])


def _refuse(problems: list[str], what: str, hint: str | None = None) -> None:
    if problems:
        shown = "; ".join(problems[:MAX_SHOWN])
        more = f" (and {len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
        raise IntegrityError(f"{what}: {shown}{more}", hint=hint)


def run_preflight(writer: Writer, plan: Plan, context: ArchiveContext) -> Preflight:
    types = {obj.type for obj in plan.objects()}
    served: dict[str, ServedType] = {}
    for group_version in sorted({(t.group, t.version) for t in types}):
        example = next(t for t in types if (t.group, t.version) == group_version)
        served.update(_discover(writer, example))
    from_archive_crds = {t for t in types if (t.group, t.plural) in context.crd_types}
    unknown = sorted(f"{t.resource} ({t.api_version} {t.kind})" for t in types
                     if t.resource not in served and t not in from_archive_crds)
    _refuse(unknown, "objects of kinds the cluster does not serve and no CRD in the archive defines",
            hint="install their CRDs or API first, or leave them out with --exclude-kind")
    disguised = sorted(
        f"{t.resource}: the archive says {'namespaced' if t.namespaced else 'cluster-scoped'} kind {t.kind}, the "
        f"server serves {'namespaced' if served[t.resource].namespaced else 'cluster-scoped'} kind "
        f"{served[t.resource].kind}"
        for t in types if t.resource in served and (served[t.resource].namespaced != t.namespaced
                                                    or served[t.resource].kind != t.kind))
    _refuse(disguised, "types whose kind or scope differ from what the server serves")
    live = _live_namespaces(writer)
    wanted = {obj.namespace for obj in plan.objects() if obj.type.namespaced}
    wanted |= {obj.name for obj in plan.objects() if obj.type.resource == "namespaces"}
    unserved = frozenset(t.resource for t in from_archive_crds if t.resource not in served)
    return Preflight(served, live, frozenset(wanted - live), unserved)
