"""The images the drill's application runs, by role, and which pods run each. Pure.

There is no registry to pull from and no placeholder: every container of the application runs
``python3`` (a small HTTP server, the database script, the dump job) from an image the target
can start — on ``local`` and ``k3d`` the Debian image built on this machine and loaded into the
nodes, on ``--cluster kubeconfig`` the images named in ``drill.images`` (docs/drill.md, "Images").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dr_lib.jsontypes import JSONObject

APP = "app"
DB_DUMP = "db_dump"
# role → what runs it: why each image must hold python3. The keys are drill.images' keys.
ROLES: dict[str, str] = {
    APP: "every server container (web, api, metrics-exporter: python3 -m http.server; db: a SQLite script)",
    DB_DUMP: "the db-dump CronJob's container (python3 fetches the database file; suspended in a drill)",
}


def _pod_spec(obj: JSONObject) -> dict[str, Any] | None:
    """The pod template's spec of a workload (Deployment, StatefulSet, DaemonSet, Job, CronJob), or a Pod's."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec if isinstance(spec, dict) else None
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    return pod if isinstance(pod, dict) else None


def containers(obj: JSONObject) -> Iterator[dict[str, Any]]:
    """Every container (init containers too) an object would run."""
    pod = _pod_spec(obj)
    if pod is None:
        return
    for key in ("initContainers", "containers"):
        yield from (c for c in pod.get(key) or [] if isinstance(c, dict))


def describe(obj: JSONObject) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def images_used(objects: list[JSONObject]) -> dict[str, list[str]]:
    """image → the objects whose pods run it (``Deployment ns/name``), for checks and errors."""
    found: dict[str, list[str]] = {}
    for obj in objects:
        for container in containers(obj):
            users = found.setdefault(str(container.get("image", "")), [])
            if describe(obj) not in users:
                users.append(describe(obj))
    return found


def role_stand_ins() -> dict[str, str]:
    """Each role's own name in place of its image: the application built with these says who uses which."""
    return {role: role for role in ROLES}


def role_users(used: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """role → objects, from :func:`images_used` of the application built with :func:`role_stand_ins`."""
    return {role: list(used.get(role, [])) for role in ROLES}
