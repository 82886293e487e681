"""Restore order as data: tiers of resources, each with the reason it comes where it does.

Follows the order Velero converged on (see ../shared/notes/dr-facts.md), grouped into tiers:
objects inside one tier do not depend on each other and are created concurrently; a tier
starts when the previous one has finished. Resources not named here go to the ``workloads``
tier (built-in kinds) or the ``custom-resources`` tier (everything else).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierRule:
    name: str
    resources: tuple[str, ...]  # group-qualified plurals (``deployments.apps``; core: ``pods``)
    reason: str


WORKLOADS_TIER = "workloads"
CUSTOM_RESOURCES_TIER = "custom-resources"

ORDER: tuple[TierRule, ...] = (
    TierRule("crds", ("customresourcedefinitions.apiextensions.k8s.io",),
             "custom resources can be created only once their CRD is Established"),
    TierRule("namespaces", ("namespaces",), "every namespaced object needs its namespace"),
    TierRule("storage-classes", ("storageclasses.storage.k8s.io", "volumeattributesclasses.storage.k8s.io",
                                 "csidrivers.storage.k8s.io"),
             "volumes and claims name their class; provisioning needs it"),
    TierRule("persistent-volumes", ("persistentvolumes",),
             "a claim restored after its volume binds to it instead of provisioning an empty one"),
    TierRule("persistent-volume-claims", ("persistentvolumeclaims",),
             "pods mount claims: claims first, so pods do not wait on missing ones"),
    TierRule("rbac-roles", ("clusterroles.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io"),
             "RBAC early: some operators check their permissions once at start-up and never retry"),
    TierRule("service-accounts", ("serviceaccounts",),
             "service accounts before secrets, so their token secrets are filled in"),
    TierRule("rbac-bindings", ("clusterrolebindings.rbac.authorization.k8s.io",
                               "rolebindings.rbac.authorization.k8s.io"),
             "bindings after the roles and service accounts they bind"),
    TierRule("secrets", ("secrets",), "workloads read secrets at start-up"),
    TierRule("config-maps", ("configmaps",), "workloads read config maps at start-up"),
    TierRule("policies", ("limitranges", "resourcequotas", "priorityclasses.scheduling.k8s.io",
                          "runtimeclasses.node.k8s.io", "ingressclasses.networking.k8s.io",
                          "deviceclasses.resource.k8s.io"),
             "admission rejects pods naming a missing priority or runtime class; limits apply at creation"),
    TierRule("pods", ("pods",), "standalone pods (controller-owned pods are left to their controllers)"),
    TierRule("replica-sets", ("replicasets.apps",), "standalone replica sets, after the pods they may adopt"),
    TierRule("endpoints", ("endpoints", "endpointslices.discovery.k8s.io"),
             "hand-made endpoints before their selector-less services"),
    TierRule("services", ("services",), "services before the workloads that look them up by DNS"),
    TierRule(WORKLOADS_TIER, (), "the remaining built-in kinds (deployments, stateful sets, jobs, …): "
                                 "independent of one another"),
    TierRule("ingresses", ("ingresses.networking.k8s.io",),
             "ingresses route to the services and workloads restored before them"),
    TierRule(CUSTOM_RESOURCES_TIER, (), "custom resources after their CRDs and after the built-in objects "
                                        "their operators manage"),
    TierRule("admission", ("validatingwebhookconfigurations.admissionregistration.k8s.io",
                           "mutatingwebhookconfigurations.admissionregistration.k8s.io",
                           "validatingadmissionpolicies.admissionregistration.k8s.io",
                           "validatingadmissionpolicybindings.admissionregistration.k8s.io",
                           "mutatingadmissionpolicies.admissionregistration.k8s.io",
                           "mutatingadmissionpolicybindings.admissionregistration.k8s.io",
                           "apiservices.apiregistration.k8s.io"),
             "last: a webhook or aggregated API whose backend is not running yet would reject or "
             "break every object restored after it"),
)

_TIER_OF_RESOURCE: dict[str, str] = {resource: rule.name for rule in ORDER for resource in rule.resources}
TIER_NAMES: tuple[str, ...] = tuple(rule.name for rule in ORDER)


def tier_of(resource: str, builtin: bool) -> str:
    """The tier a resource (``plural.group``) belongs to."""
    named = _TIER_OF_RESOURCE.get(resource)
    if named is not None:
        return named
    return WORKLOADS_TIER if builtin else CUSTOM_RESOURCES_TIER


def rule_of(name: str) -> TierRule:
    for rule in ORDER:
        if rule.name == name:
            return rule
    raise KeyError(name)
