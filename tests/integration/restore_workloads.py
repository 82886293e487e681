"""A workload set covering every default kind a user creates, for restore tests.

Two namespaces (``shop``, ``data``) and cluster-scoped objects: RBAC, a token-bearing service
account, ClusterIP / explicit and allocated NodePort / headless Services, a statically bound
PV/PVC pair, every workload kind, policies, an Ingress, and a CRD with custom resources.
"""

from __future__ import annotations

import time
from typing import Any

from dr_lib.kube.client import Kube

LABELS = {"app": "web"}
POD_SPEC = {"containers": [{"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": 80}]}],
            "tolerations": [{"operator": "Exists"}]}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": POD_SPEC}

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}


def _m(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def workload_objects() -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) in an order the API server accepts."""
    ns, data = "shop", "data"
    objs: list[tuple[str, dict[str, Any]]] = [
        ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD),
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": _m(ns, labels={"team": "a"})}),
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": _m(data)}),
        ("/apis/scheduling.k8s.io/v1/priorityclasses",
         {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": _m("restore-high"),
          "value": 1000}),
        ("/apis/storage.k8s.io/v1/storageclasses",
         {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _m("manual"),
          "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate"}),
        ("/api/v1/persistentvolumes",
         {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _m("restore-pv"),
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                   "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/tmp/restore-pv"}}}),
        (f"/api/v1/namespaces/{data}/persistentvolumeclaims",
         {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _m("db", data),
          "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                   "resources": {"requests": {"storage": "1Gi"}}}}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _m("restore-reader"),
          "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _m("cm-editor", ns),
          "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}),
        (f"/api/v1/namespaces/{ns}/serviceaccounts",
         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _m("builder", ns),
          "imagePullSecrets": [{"name": "registry"}]}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": _m("restore-read"),
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "restore-reader"},
          "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": ns}]}),
        (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _m("builder-cm", ns),
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-editor"},
          "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": ns}]}),
        (f"/api/v1/namespaces/{ns}/secrets",
         {"apiVersion": "v1", "kind": "Secret", "metadata": _m("registry", ns), "type": "Opaque",
          "stringData": {"password": "s3cret"}}),
        (f"/api/v1/namespaces/{ns}/secrets",
         {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
          "metadata": _m("builder-token", ns, annotations={"kubernetes.io/service-account.name": "builder"})}),
        (f"/api/v1/namespaces/{ns}/configmaps",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _m("settings", ns), "data": {"mode": "prod"}}),
        (f"/api/v1/namespaces/{ns}/limitranges",
         {"apiVersion": "v1", "kind": "LimitRange", "metadata": _m("limits", ns),
          "spec": {"limits": [{"type": "Container", "max": {"memory": "2Gi"}}]}}),
        (f"/api/v1/namespaces/{ns}/resourcequotas",
         {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _m("quota", ns), "spec": {"hard": {"pods": "50"}}}),
        (f"/api/v1/namespaces/{ns}/services",
         {"apiVersion": "v1", "kind": "Service", "metadata": _m("web", ns),
          "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": 80}]}}),
        (f"/api/v1/namespaces/{ns}/services",
         {"apiVersion": "v1", "kind": "Service", "metadata": _m("web-np", ns),
          "spec": {"type": "NodePort", "selector": LABELS, "ports": [{"port": 80, "nodePort": 30080, "name": "a"},
                                                                     {"port": 81, "name": "b"}]}}),
        (f"/api/v1/namespaces/{data}/services",
         {"apiVersion": "v1", "kind": "Service", "metadata": _m("db", data),
          "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}),
        (f"/api/v1/namespaces/{ns}/services",
         {"apiVersion": "v1", "kind": "Service", "metadata": _m("external", ns), "spec": {"ports": [{"port": 443}]}}),
        (f"/api/v1/namespaces/{ns}/endpoints",
         {"apiVersion": "v1", "kind": "Endpoints", "metadata": _m("external", ns),
          "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 443}]}]}),
        (f"/apis/apps/v1/namespaces/{ns}/deployments",
         {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _m("web", ns),
          "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}}),
        (f"/apis/apps/v1/namespaces/{data}/statefulsets",
         {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _m("db", data),
          "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                   "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                       **POD_SPEC, "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "db"}}]}}}}),
        (f"/apis/apps/v1/namespaces/{ns}/daemonsets",
         {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _m("agent", ns),
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}}, "spec": POD_SPEC}}}),
        (f"/api/v1/namespaces/{ns}/pods",
         {"apiVersion": "v1", "kind": "Pod", "metadata": _m("standalone", ns, labels={"app": "solo"}),
          "spec": {**POD_SPEC, "priorityClassName": "restore-high"}}),
        (f"/apis/batch/v1/namespaces/{ns}/jobs",
         {"apiVersion": "batch/v1", "kind": "Job", "metadata": _m("migrate", ns),
          "spec": {"suspend": True, "template": {"spec": {**POD_SPEC, "restartPolicy": "Never"}}}}),
        (f"/apis/batch/v1/namespaces/{ns}/cronjobs",
         {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _m("nightly", ns),
          "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {
              "spec": {**POD_SPEC, "restartPolicy": "Never"}}}}}}),
        (f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
         {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _m("web", ns),
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                   "minReplicas": 2, "maxReplicas": 4}}),
        (f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
         {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _m("web", ns),
          "spec": {"minAvailable": 1, "selector": {"matchLabels": LABELS}}}),
        (f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
         {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _m("deny", ns),
          "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        ("/apis/networking.k8s.io/v1/ingressclasses",
         {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": _m("restore-nginx"),
          "spec": {"controller": "example.com/ingress"}}),
        (f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
         {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _m("web", ns),
          "spec": {"ingressClassName": "restore-nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
              {"path": "/", "pathType": "Prefix",
               "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        (f"/api/v1/namespaces/{ns}/podtemplates",
         {"apiVersion": "v1", "kind": "PodTemplate", "metadata": _m("tpl", ns), "template": TEMPLATE}),
        (f"/apis/example.com/v1/namespaces/{ns}/widgets",
         {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": _m("blue", ns), "spec": {"size": 3}}),
        (f"/apis/example.com/v1/namespaces/{data}/widgets",
         {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": _m("red", data), "spec": {"size": 5}}),
    ]
    return objs


def create_workloads(kube: Kube, timeout: float = 60.0) -> None:
    """Create the set; wait for the CRD before its widgets (a real user would too)."""
    for path, body in workload_objects():
        deadline = time.monotonic() + timeout
        while True:
            response = kube.request("POST", path, body=body)
            if response.ok:
                break
            if response.status == 404 and "example.com" in path and time.monotonic() < deadline:
                time.sleep(0.3)  # the CRD is not served yet
                continue
            raise AssertionError(f"creating {path} {body['metadata']['name']}: {response.status} {response.reason}")


def wait_settled(kube: Kube, timeout: float = 60.0) -> None:
    """Controllers have made their pods and bound the claim: an archive then holds owned objects too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = kube.get("/api/v1/namespaces/shop/pods")["items"]
        claim = kube.get("/api/v1/namespaces/data/persistentvolumeclaims/db")
        if len(pods) >= 3 and claim.get("status", {}).get("phase") == "Bound":
            return
        time.sleep(0.5)
    raise AssertionError("the workload set did not settle")
