"""Refusals that name another object this restore creates: admission looked it up and did
not find it (yet).

Admission plugins look objects up in the API server's caches (priority classes, runtime
classes, service accounts). Two situations make such a lookup fail although the restore is
right: a dry run persists nothing, so the object it needs never exists; and in a real run
the cache may lag a moment behind the create of the tier before. Each rule recognises the
API server's refusal and names the object; when that object is in the plan, the dry run
reports "not validated" instead of a failure, and the real run tries again for a while.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dr_lib.restore.plan.model import ObjectKey


@dataclass(frozen=True)
class Dependency:
    pattern: re.Pattern[str]
    resource: str
    namespaced: bool
    reason: str


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency(re.compile(r"no PriorityClass with name (?P<name>[^\s\"]+) was found"),
               "priorityclasses.scheduling.k8s.io", False, "the Priority admission plugin looks the class up"),
    Dependency(re.compile(r"RuntimeClass \"(?P<name>[^\"]+)\" not found"), "runtimeclasses.node.k8s.io", False,
               "the RuntimeClass admission plugin looks the class up"),
    Dependency(re.compile(r"error looking up service account [^/\s]+/(?P<name>[^:\s]+)"),
               "serviceaccounts", True, "the ServiceAccount admission plugin looks the account up"),
    Dependency(re.compile(r"namespaces \"(?P<name>[^\"]+)\" not found"), "namespaces", False,
               "the namespace lifecycle plugin looks the namespace up"),
)


def needed_object(message: str, namespace: str, planned: frozenset[ObjectKey]) -> tuple[Dependency, str] | None:
    """The rule and the name of the planned object a refusal says is missing, or None."""
    for rule in DEPENDENCIES:
        match = rule.pattern.search(message)
        if match is None:
            continue
        key = ObjectKey(rule.resource, namespace if rule.namespaced else "", match.group("name"))
        if key in planned:
            return rule, match.group("name")
    return None


def unmet_dependency(message: str, namespace: str, planned: frozenset[ObjectKey]) -> str | None:
    """For a dry run: why a refusal is expected (the object it needs is created by this restore), or None."""
    found = needed_object(message, namespace, planned)
    if found is None:
        return None
    rule, name = found
    return f"dry run: needs {rule.resource} {name}, which this restore creates first ({rule.reason}); not validated"
