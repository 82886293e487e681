"""The local cluster is a real Kubernetes: workloads run on kwok nodes, the API server
validates, defaults and enforces immutability, CRDs serve custom resources."""

from __future__ import annotations

from typing import Any

from _kube import create, wait_for

from dr_lib.kube.client import Kube

LABELS = {"app": "web"}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS},
                              "spec": {"containers": [{"name": "web", "image": "local/debian:bookworm"}]}}},
    }


def ready_pods(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector})["items"]
    ready = []
    for pod in pods:
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if pod.get("status", {}).get("phase") == "Running" and conditions.get("Ready") == "True":
            ready.append(pod)
    return ready


def test_deployment_pods_run_and_are_ready_on_kwok_nodes(kube: Kube, namespace: str) -> None:
    create(kube, f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", 3))
    pods = wait_for(lambda: len(ready_pods(kube, namespace, "app=web")) == 3
                    and ready_pods(kube, namespace, "app=web"), 60, "3 ready pods of Deployment web")
    assert {pod["spec"]["nodeName"] for pod in pods} <= {f"kwok-node-{i}" for i in range(3)}
    status = wait_for(lambda: kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["status"]
                      .get("readyReplicas") == 3 or None, 30, "Deployment status readyReplicas=3")
    assert status


def test_statefulset_claims_bind_to_a_precreated_volume_and_a_service_gets_an_ip(kube: Kube, namespace: str) -> None:
    pv_name = f"pv-{namespace}"
    create(kube, "/api/v1/persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "persistentVolumeReclaimPolicy": "Delete", "hostPath": {"path": f"/tmp/{pv_name}"},
                 "claimRef": {"namespace": namespace, "name": "data-db-0"}},
    })
    try:
        service = create(kube, f"/api/v1/namespaces/{namespace}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
        })
        assert service["spec"]["clusterIP"].startswith("10.43."), service["spec"]["clusterIP"]
        create(kube, f"/apis/apps/v1/namespaces/{namespace}/statefulsets", {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                             "spec": {"containers": [{"name": "db", "image": "local/debian:bookworm",
                                                      "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                    "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                    "resources": {"requests": {"storage": "1Gi"}}}}],
            },
        })
        claim = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data-db-0"
        wait_for(lambda: kube.request("GET", claim).ok and kube.get(claim)["status"].get("phase") == "Bound", 60,
                 "PVC data-db-0 Bound")
        assert kube.get(claim)["spec"]["volumeName"] == pv_name
        wait_for(lambda: ready_pods(kube, namespace, "app=db"), 60, "pod db-0 Running and Ready")
        endpoints = wait_for(lambda: kube.get(f"/api/v1/namespaces/{namespace}/endpoints/db").get("subsets"),
                             30, "endpoints of Service db")
        assert endpoints[0]["addresses"]
    finally:
        kube.request("DELETE", f"/api/v1/persistentvolumes/{pv_name}")


def test_crd_serves_custom_resources_and_validates_them(kube: Kube, namespace: str) -> None:
    group = f"{namespace}.example.com"  # unique per test: CRDs are cluster-scoped
    crd_name = f"widgets.{group}"
    create(kube, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": crd_name},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                                                               "properties": {"size": {"type": "integer"}}}}}}}]},
    })
    try:
        path = f"/apis/{group}/v1/namespaces/{namespace}/widgets"
        wait_for(lambda: kube.request("GET", path).ok, 30, f"the API of CRD {crd_name} to be served")
        created = create(kube, path, {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"},
                                      "spec": {"size": 3}})
        assert created["metadata"]["uid"]
        bad = kube.request("POST", path, body={"apiVersion": f"{group}/v1", "kind": "Widget",
                                               "metadata": {"name": "w2"}, "spec": {"size": "big"}})
        assert bad.status == 422, bad
        assert "spec.size" in bad.reason
    finally:
        kube.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}")


def test_api_server_rejects_an_invalid_object(kube: Kube, namespace: str) -> None:
    response = kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                            body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Valid_Name"}})
    assert response.status == 422
    assert "Not_A_Valid_Name" in response.reason


def test_api_server_rejects_an_immutable_field_change(kube: Kube, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    create(kube, path, deployment("fixed", 1))
    # A merge patch carries no resourceVersion: the controllers' own updates cannot make it conflict.
    patch = {"spec": {"selector": {"matchLabels": {"app": "other"}},
                      "template": {"metadata": {"labels": {"app": "other"}}}}}
    response = kube.request("PATCH", f"{path}/fixed", body=patch, content_type="application/merge-patch+json")
    assert response.status == 422, response
    assert "field is immutable" in response.reason


def test_api_server_applies_defaults(kube: Kube, namespace: str) -> None:
    created = create(kube, f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("defaults", 1))
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"
    assert created["spec"]["template"]["spec"]["restartPolicy"] == "Always"
