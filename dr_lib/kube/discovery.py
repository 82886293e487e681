"""API discovery: which resources the server serves, in each group's preferred version.

The core group and every group's preferred version are asked in parallel. A group whose
discovery fails (an aggregated API whose backend is down answers 503) is reported as a
warning and left out, as kubectl does, rather than failing a backup of everything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dr_lib.errors import ClusterError
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType


@dataclass(frozen=True)
class APIResource:
    """One served resource and the names people use for it."""

    type: ResourceType
    singular: str = ""
    short_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``plural`` or ``plural.group``, as kubectl and archive file names spell it."""
        return self.type.plural if not self.type.group else f"{self.type.plural}.{self.type.group}"

    def has_verbs(self, *verbs: str) -> bool:
        return all(verb in self.type.verbs for verb in verbs)

    def answers_to(self, name: str) -> bool:
        """True when ``name`` designates this resource: plural, singular, Kind or short name,
        each optionally qualified by the group (``deployments.apps``, ``Deployment.apps``)."""
        wanted = name.strip().lower()
        group = self.type.group
        bare = {self.type.plural, self.singular, self.type.kind.lower(), *self.short_names} - {""}
        if wanted in bare:
            return True
        return bool(group) and any(wanted == f"{alias}.{group}" for alias in bare)


@dataclass(frozen=True)
class Discovery:
    resources: tuple[APIResource, ...]
    warnings: tuple[str, ...] = ()

    def find(self, name: str) -> list[APIResource]:
        return [resource for resource in self.resources if resource.answers_to(name)]

    def by_group_plural(self, group: str, plural: str) -> APIResource | None:
        for resource in self.resources:
            if resource.type.group == group and resource.type.plural == plural:
                return resource
        return None


def parse_resource_list(group: str, version: str, body: JSONObject) -> list[APIResource]:
    """An APIResourceList as our values; subresources (``pods/log``) are not resources."""
    found = []
    for entry in body.get("resources") or []:
        name = str(entry.get("name", ""))
        if not name or "/" in name:
            continue
        rtype = ResourceType(group=group, version=version, plural=name, kind=str(entry.get("kind", "")),
                             namespaced=bool(entry.get("namespaced")), verbs=tuple(entry.get("verbs") or ()))
        found.append(APIResource(rtype, str(entry.get("singularName") or ""), tuple(entry.get("shortNames") or ())))
    return found


def _group_versions(kube: Kube) -> list[tuple[str, str]]:
    versions = [("", "v1")]
    for group in kube.get("/apis").get("groups") or []:
        preferred: dict[str, Any] = group.get("preferredVersion") or {}
        listed = group.get("versions") or [{}]
        version = preferred.get("version") or listed[0].get("version")
        if version:
            versions.append((str(group.get("name", "")), str(version)))
    return versions


def _fetch(kube: Kube, group: str, version: str) -> tuple[list[APIResource], str | None]:
    path = "/api/v1" if not group else f"/apis/{group}/{version}"
    response = kube.request("GET", path)
    if not response.ok:
        return [], f"discovery of {group or 'core'}/{version} failed ({response.reason}); its resources are skipped"
    return parse_resource_list(group, version, response.body), None


def discover(kube: Kube, *, workers: int = 8) -> Discovery:
    """Every resource the server serves in its group's preferred version."""
    pairs = _group_versions(kube)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discovery") as pool:
        results = list(pool.map(lambda pair: _fetch(kube, *pair), pairs))
    _, core_warning = results[0]
    if core_warning is not None:
        raise ClusterError(f"API server {kube.server}: {core_warning}")
    resources = [resource for found, _ in results for resource in found]
    warnings = tuple(warning for _, warning in results if warning is not None)
    return Discovery(tuple(resources), warnings)


def resource_names(resources: Iterable[APIResource]) -> list[str]:
    return sorted(resource.name for resource in resources)
