"""A second application, unlike the drill's own, for drills of a real archive: the "shop".

Other namespaces and kinds than InsightLearn: a CRD with its custom resources, ConfigMaps and
Secrets, a Deployment serving HTTP, a Service, RBAC (ServiceAccount, Role, RoleBinding,
ClusterRole, ClusterRoleBinding), a statically bound PersistentVolume and its claim. Its pods run
the locally built Debian image, so on a real node they really start.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType

GROUP = "shop.k3s-dr.test"
NAMESPACES = ("shop", "shop-billing")
SECRET_VALUE = "shop-secret-7c1e9a3b5d2f4e60"
WIDGETS = ("blue-widget", "red-widget", "green-widget")
IMAGE = "docker.io/local/debian:bookworm"


def _meta(name: str, namespace: str | None = None) -> JSONObject:
    return {"name": name, "labels": {"app.kubernetes.io/part-of": "shop"},
            **({"namespace": namespace} if namespace else {})}


def objects(suffix: str, volume_dir: str, *, volume_backup: bool = False) -> list[tuple[ResourceType, JSONObject]]:
    """(type, body) in creation order; cluster-scoped names carry ``suffix``; ``volume_backup``: the
    storefront's volume is copied into the archive (it must run on a node whose disk is this machine's)."""
    ns, billing = NAMESPACES
    crd = ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)
    widget = ResourceType(GROUP, "v1", "widgets", "Widget", True)
    core = {kind: ResourceType("", "v1", plural, kind, namespaced) for kind, plural, namespaced in (
        ("Namespace", "namespaces", False), ("ConfigMap", "configmaps", True), ("Secret", "secrets", True),
        ("Service", "services", True), ("ServiceAccount", "serviceaccounts", True),
        ("PersistentVolume", "persistentvolumes", False), ("PersistentVolumeClaim", "persistentvolumeclaims", True))}
    rbac = {kind: ResourceType("rbac.authorization.k8s.io", "v1", plural, kind, namespaced) for kind, plural, namespaced
            in (("Role", "roles", True), ("RoleBinding", "rolebindings", True), ("ClusterRole", "clusterroles", False),
                ("ClusterRoleBinding", "clusterrolebindings", False))}
    deployments = ResourceType("apps", "v1", "deployments", "Deployment", True)
    pv = f"shop-orders-{suffix}"
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "colour": {"type": "string"}, "stock": {"type": "integer"}}}}}
    container = {"name": "storefront", "image": IMAGE, "imagePullPolicy": "Never",
                 "command": ["python3", "-m", "http.server", "8000"],
                 "ports": [{"name": "http", "containerPort": 8000}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8000}, "periodSeconds": 2},
                 "volumeMounts": [{"name": "orders", "mountPath": "/var/lib/orders"}],
                 "env": [{"name": "PAYMENT_KEY", "valueFrom": {"secretKeyRef": {"name": "payment", "key": "key"}}}]}
    return [
        (core["Namespace"], {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)}),
        (core["Namespace"], {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(billing)}),
        (crd, {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": _meta(f"widgets.{GROUP}"), "spec": {
                   "group": GROUP, "scope": "Namespaced",
                   "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                   "versions": [{"name": "v1", "served": True, "storage": True,
                                 "schema": {"openAPIV3Schema": schema}}]}}),
        (core["ConfigMap"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("storefront", ns),
                             "data": {"currency": "EUR", "catalogue.json": '{"widgets": 3}'}}),
        (core["ConfigMap"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("invoicing", billing),
                             "data": {"vat": "0.2"}}),
        (core["Secret"], {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("payment", ns), "type": "Opaque",
                          "data": {"key": base64.b64encode(SECRET_VALUE.encode()).decode()}}),
        (core["ServiceAccount"], {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("storefront", ns)}),
        (rbac["Role"], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                        "metadata": _meta("widget-reader", ns),
                        "rules": [{"apiGroups": [GROUP], "resources": ["widgets"], "verbs": ["get", "list"]}]}),
        (rbac["RoleBinding"], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                               "metadata": _meta("widget-reader", ns),
                               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                           "name": "widget-reader"},
                               "subjects": [{"kind": "ServiceAccount", "name": "storefront", "namespace": ns}]}),
        (rbac["ClusterRole"], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                               "metadata": _meta(f"shop-auditor-{suffix}"),
                               "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
        (rbac["ClusterRoleBinding"], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                                      "metadata": _meta(f"shop-auditor-{suffix}"),
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": f"shop-auditor-{suffix}"},
                                      "subjects": [{"kind": "ServiceAccount", "name": "storefront",
                                                    "namespace": ns}]}),
        (core["PersistentVolume"], {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _meta(pv), "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "shop-static",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": volume_dir, "type": "DirectoryOrCreate"}}}),
        (deployments, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("storefront", ns), "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "storefront"}},
            "template": {"metadata": {"labels": {"app": "storefront"}, **(
                {"annotations": {"backup.k3s-dr.io/volumes": "orders"}} if volume_backup else {})}, "spec": {
                "serviceAccountName": "storefront", "terminationGracePeriodSeconds": 5, "containers": [container],
                "volumes": [{"name": "orders", "persistentVolumeClaim": {"claimName": "orders"}}]}}}}),
        (core["Service"], {"apiVersion": "v1", "kind": "Service", "metadata": _meta("storefront", ns), "spec": {
            "selector": {"app": "storefront"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        *((widget, {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": _meta(name, ns),
                    "spec": {"colour": name.split("-")[0], "stock": index * 10}})
          for index, name in enumerate(WIDGETS)),
        (core["PersistentVolumeClaim"], {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                         "metadata": _meta("orders", ns), "spec": {
                                             "accessModes": ["ReadWriteOnce"], "storageClassName": "shop-static",
                                             "volumeName": pv, "resources": {"requests": {"storage": "1Gi"}}}}),
    ]


def _established(kube: Kube) -> bool:
    crd = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}")
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def seed(kube: Kube, suffix: str, volume_dir: str, *, volume_backup: bool = False,
         timeout: float = 120.0) -> list[tuple[ResourceType, Any]]:
    """Create the shop and wait until the Deployment is Ready and the claim Bound."""
    deadline = time.monotonic() + timeout
    created = objects(suffix, volume_dir, volume_backup=volume_backup)
    for rtype, body in created:
        if rtype.group == GROUP:
            while not _established(kube):
                assert time.monotonic() < deadline, "the Widget CRD was never Established"
                time.sleep(0.25)
        response = kube.request("POST", rtype.collection_path(body["metadata"].get("namespace")), body=body)
        assert response.ok, f"creating {rtype.kind} {body['metadata']['name']}: {response.reason}"
    while not _ready(kube):
        assert time.monotonic() < deadline, "the shop did not become Ready"
        time.sleep(0.5)
    return created


def _ready(kube: Kube) -> bool:
    deployment = kube.get(f"/apis/apps/v1/namespaces/{NAMESPACES[0]}/deployments/storefront")
    claim = kube.get(f"/api/v1/namespaces/{NAMESPACES[0]}/persistentvolumeclaims/orders")
    return (deployment.get("status") or {}).get("readyReplicas") == 1 and \
        (claim.get("status") or {}).get("phase") == "Bound"
