"""The resource types built in to Kubernetes (1.34) and their scope.

The planner trusts the archive's manifest only as far as it agrees with this table: a file
claiming that ClusterRoles are namespaced, or that a kind lives under another plural, is a
forged or broken archive. Types missing here are resolved against CRDs in the archive or,
by the applier, against the live API server's discovery.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinType:
    kind: str
    namespaced: bool


# (group, plural) → kind and scope. Versions are not part of the key: one resource keeps its
# kind and scope across versions.
_NS = True
_CLUSTER = False
BUILTIN_TYPES: dict[tuple[str, str], BuiltinType] = {
    ("", "bindings"): BuiltinType("Binding", _NS),
    ("", "componentstatuses"): BuiltinType("ComponentStatus", _CLUSTER),
    ("", "configmaps"): BuiltinType("ConfigMap", _NS),
    ("", "endpoints"): BuiltinType("Endpoints", _NS),
    ("", "events"): BuiltinType("Event", _NS),
    ("", "limitranges"): BuiltinType("LimitRange", _NS),
    ("", "namespaces"): BuiltinType("Namespace", _CLUSTER),
    ("", "nodes"): BuiltinType("Node", _CLUSTER),
    ("", "persistentvolumeclaims"): BuiltinType("PersistentVolumeClaim", _NS),
    ("", "persistentvolumes"): BuiltinType("PersistentVolume", _CLUSTER),
    ("", "pods"): BuiltinType("Pod", _NS),
    ("", "podtemplates"): BuiltinType("PodTemplate", _NS),
    ("", "replicationcontrollers"): BuiltinType("ReplicationController", _NS),
    ("", "resourcequotas"): BuiltinType("ResourceQuota", _NS),
    ("", "secrets"): BuiltinType("Secret", _NS),
    ("", "serviceaccounts"): BuiltinType("ServiceAccount", _NS),
    ("", "services"): BuiltinType("Service", _NS),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"):
        BuiltinType("MutatingWebhookConfiguration", _CLUSTER),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"):
        BuiltinType("ValidatingWebhookConfiguration", _CLUSTER),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"):
        BuiltinType("ValidatingAdmissionPolicy", _CLUSTER),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"):
        BuiltinType("ValidatingAdmissionPolicyBinding", _CLUSTER),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"): BuiltinType("MutatingAdmissionPolicy", _CLUSTER),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"):
        BuiltinType("MutatingAdmissionPolicyBinding", _CLUSTER),
    ("apiextensions.k8s.io", "customresourcedefinitions"): BuiltinType("CustomResourceDefinition", _CLUSTER),
    ("apiregistration.k8s.io", "apiservices"): BuiltinType("APIService", _CLUSTER),
    ("apps", "controllerrevisions"): BuiltinType("ControllerRevision", _NS),
    ("apps", "daemonsets"): BuiltinType("DaemonSet", _NS),
    ("apps", "deployments"): BuiltinType("Deployment", _NS),
    ("apps", "replicasets"): BuiltinType("ReplicaSet", _NS),
    ("apps", "statefulsets"): BuiltinType("StatefulSet", _NS),
    ("autoscaling", "horizontalpodautoscalers"): BuiltinType("HorizontalPodAutoscaler", _NS),
    ("batch", "cronjobs"): BuiltinType("CronJob", _NS),
    ("batch", "jobs"): BuiltinType("Job", _NS),
    ("certificates.k8s.io", "certificatesigningrequests"): BuiltinType("CertificateSigningRequest", _CLUSTER),
    ("certificates.k8s.io", "clustertrustbundles"): BuiltinType("ClusterTrustBundle", _CLUSTER),
    ("coordination.k8s.io", "leases"): BuiltinType("Lease", _NS),
    ("coordination.k8s.io", "leasecandidates"): BuiltinType("LeaseCandidate", _NS),
    ("discovery.k8s.io", "endpointslices"): BuiltinType("EndpointSlice", _NS),
    ("events.k8s.io", "events"): BuiltinType("Event", _NS),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): BuiltinType("FlowSchema", _CLUSTER),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"):
        BuiltinType("PriorityLevelConfiguration", _CLUSTER),
    ("internal.apiserver.k8s.io", "storageversions"): BuiltinType("StorageVersion", _CLUSTER),
    ("networking.k8s.io", "ingressclasses"): BuiltinType("IngressClass", _CLUSTER),
    ("networking.k8s.io", "ingresses"): BuiltinType("Ingress", _NS),
    ("networking.k8s.io", "ipaddresses"): BuiltinType("IPAddress", _CLUSTER),
    ("networking.k8s.io", "networkpolicies"): BuiltinType("NetworkPolicy", _NS),
    ("networking.k8s.io", "servicecidrs"): BuiltinType("ServiceCIDR", _CLUSTER),
    ("node.k8s.io", "runtimeclasses"): BuiltinType("RuntimeClass", _CLUSTER),
    ("policy", "poddisruptionbudgets"): BuiltinType("PodDisruptionBudget", _NS),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): BuiltinType("ClusterRoleBinding", _CLUSTER),
    ("rbac.authorization.k8s.io", "clusterroles"): BuiltinType("ClusterRole", _CLUSTER),
    ("rbac.authorization.k8s.io", "rolebindings"): BuiltinType("RoleBinding", _NS),
    ("rbac.authorization.k8s.io", "roles"): BuiltinType("Role", _NS),
    ("resource.k8s.io", "deviceclasses"): BuiltinType("DeviceClass", _CLUSTER),
    ("resource.k8s.io", "resourceclaims"): BuiltinType("ResourceClaim", _NS),
    ("resource.k8s.io", "resourceclaimtemplates"): BuiltinType("ResourceClaimTemplate", _NS),
    ("resource.k8s.io", "resourceslices"): BuiltinType("ResourceSlice", _CLUSTER),
    ("scheduling.k8s.io", "priorityclasses"): BuiltinType("PriorityClass", _CLUSTER),
    ("storage.k8s.io", "csidrivers"): BuiltinType("CSIDriver", _CLUSTER),
    ("storage.k8s.io", "csinodes"): BuiltinType("CSINode", _CLUSTER),
    ("storage.k8s.io", "csistoragecapacities"): BuiltinType("CSIStorageCapacity", _NS),
    ("storage.k8s.io", "storageclasses"): BuiltinType("StorageClass", _CLUSTER),
    ("storage.k8s.io", "volumeattachments"): BuiltinType("VolumeAttachment", _CLUSTER),
    ("storage.k8s.io", "volumeattributesclasses"): BuiltinType("VolumeAttributesClass", _CLUSTER),
    ("storagemigration.k8s.io", "storageversionmigrations"): BuiltinType("StorageVersionMigration", _CLUSTER),
}

BUILTIN_GROUPS: frozenset[str] = frozenset(group for group, _plural in BUILTIN_TYPES)

_BY_KIND: dict[tuple[str, str], tuple[str, bool]] = {
    (group, builtin.kind): (plural, builtin.namespaced) for (group, plural), builtin in BUILTIN_TYPES.items()
}


def by_kind(group: str, kind: str) -> tuple[str, bool] | None:
    """(plural, namespaced) of a built-in kind: how objects that carry only apiVersion and kind (kubectl's
    lists in the seed's archives) find their type."""
    return _BY_KIND.get((group, kind))
