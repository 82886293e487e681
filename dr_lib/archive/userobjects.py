"""Which objects are the user's: what a freshly started, empty k3s does not already have.

Shared by backup (the shrink guard counts user objects, recorded per kind in the manifest) and
restore (auto-restore measures the loss of user objects). The rules are data on an object's
(resource, namespace, name), each with the reason it is not a user object.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
BUILT_IN_NAMESPACES = SYSTEM_NAMESPACES | {"default"}


@dataclass(frozen=True)
class NotUserRule:
    """Objects matching every given field (None: any value) are not user objects."""

    reason: str
    resource: str | None = None  # ``plural`` or ``plural.group``
    namespaces: frozenset[str] | None = None  # "" for cluster-scoped objects
    names: frozenset[str] | None = None
    name_prefix: str | None = None  # for names the cluster generates (a fixed part, then a hash)

    def matches(self, resource: str, namespace: str, name: str) -> bool:
        return ((self.resource is None or resource == self.resource)
                and (self.namespaces is None or namespace in self.namespaces)
                and (self.names is None or name in self.names)
                and (self.name_prefix is None or name.startswith(self.name_prefix)))


# What a freshly started, empty k3s already has: counting it as "present" would hide a loss.
NOT_USER_OBJECTS: tuple[NotUserRule, ...] = (
    NotUserRule("the namespaces every cluster starts with", resource="namespaces", names=BUILT_IN_NAMESPACES),
    NotUserRule("the default service account the controller manager makes in every namespace",
                resource="serviceaccounts", names=frozenset({"default"})),
    NotUserRule("objects in the system namespaces, which k3s and its add-ons recreate",
                namespaces=SYSTEM_NAMESPACES),
    NotUserRule("the CA bundle the root-CA publisher puts in every namespace",
                resource="configmaps", names=frozenset({"kube-root-ca.crt"})),
    NotUserRule("the API server's own Service, which it recreates at start",
                resource="services", namespaces=frozenset({"default"}), names=frozenset({"kubernetes"})),
    NotUserRule("the API server's serving CA, which the controller manager publishes (Kubernetes >= 1.37)",
                resource="clustertrustbundles.certificates.k8s.io", namespaces=frozenset({""}),
                name_prefix="kubernetes.io:kube-apiserver-serving:"),
)


def not_user_reason(resource: str, namespace: str, name: str) -> str | None:
    """Why the object is not a user object, or None when it is one."""
    for rule in NOT_USER_OBJECTS:
        if rule.matches(resource, namespace, name):
            return rule.reason
    return None


def is_user_object(resource: str, namespace: str, name: str) -> bool:
    return not_user_reason(resource, namespace, name) is None
