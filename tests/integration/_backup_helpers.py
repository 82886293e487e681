"""Shared by the backup integration tests: the real CLI as a subprocess, and a seeded set of objects."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _kube import create, delete, wait_for

from dr_lib.kube.client import Kube

K3S_DR = str(Path(sys.executable).parent / "k3s-dr")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Env for the CLI: its own empty config, lock, log, no k3s data dir (no datastore unless asked)."""
    config = tmp_path / "config.yaml"
    if not config.exists():
        config.write_text("{}\n")
    env = {**os.environ, "K3S_DR_CONFIG": str(config), "K3S_DR_BACKUP_LOCK_FILE": str(tmp_path / "k3s-dr.lock"),
           "K3S_DR_BACKUP_LOG_FILE": str(tmp_path / "k3s-dr.log"),
           "K3S_DR_BACKUP_K3S_DATA_DIR": str(tmp_path / "no-k3s-here")}
    env.pop("K3S_DR_DEBUG", None)
    env.update(extra)
    return env


def cli(*args: str | Path, env: dict[str, str], timeout: float = 120) -> Run:
    done = subprocess.run([K3S_DR, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def crd_body(group: str) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def _pod_template(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "local/debian:bookworm"}], "restartPolicy": "Always"}}


def default_kind_bodies(ns: str, suffix: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, collection path, body) for one object of each of the seed's kinds (but Namespace and CRD)."""
    labels = {"app": "web"}
    job_template = {"metadata": {"labels": {"job": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "local/debian:bookworm"}], "restartPolicy": "Never"}}
    api, apps, net = f"/api/v1/namespaces/{ns}", f"/apis/apps/v1/namespaces/{ns}", \
        f"/apis/networking.k8s.io/v1/namespaces/{ns}"
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    return [
        ("Deployment", f"{apps}/deployments", {"metadata": {"name": "web"}, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels}, "template": _pod_template(labels)}}),
        ("StatefulSet", f"{apps}/statefulsets", {"metadata": {"name": "db"}, "spec": {
            "replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": _pod_template({"app": "db"})}}),
        ("DaemonSet", f"{apps}/daemonsets", {"metadata": {"name": "agent"}, "spec": {
            "selector": {"matchLabels": {"app": "agent"}}, "template": _pod_template({"app": "agent"})}}),
        ("Service", f"{api}/services", {"metadata": {"name": "web"}, "spec": {"selector": labels,
                                                                              "ports": [{"port": 80}]}}),
        ("ConfigMap", f"{api}/configmaps", {"metadata": {"name": "settings", "labels": {"tier": "config"}},
                                            "data": {"mode": "prod", "unicode": "é😀 ---", "multi": "a\n---\nb"}}),
        ("Secret", f"{api}/secrets", {"metadata": {"name": "creds"}, "stringData": {"password": "s3cr3t"}}),
        ("PersistentVolume", "/api/v1/persistentvolumes", {"metadata": {"name": f"pv-{suffix}"}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": f"/tmp/pv-{suffix}"}, "storageClassName": "manual"}}),
        ("PersistentVolumeClaim", f"{api}/persistentvolumeclaims", {"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "manual"}}),
        ("Ingress", f"{net}/ingresses", {"metadata": {"name": "web"}, "spec": {"rules": [{
            "host": "web.example", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        ("ServiceAccount", f"{api}/serviceaccounts", {"metadata": {"name": "robot"}}),
        ("Role", f"{rbac}/namespaces/{ns}/roles", {"metadata": {"name": "reader"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        ("RoleBinding", f"{rbac}/namespaces/{ns}/rolebindings", {"metadata": {"name": "reader"}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}]}),
        ("ClusterRole", f"{rbac}/clusterroles", {"metadata": {"name": f"k3s-dr-test-{suffix}"}, "rules": [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}),
        ("ClusterRoleBinding", f"{rbac}/clusterrolebindings", {"metadata": {"name": f"k3s-dr-test-{suffix}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": f"k3s-dr-test-{suffix}"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}]}),
        ("NetworkPolicy", f"{net}/networkpolicies", {"metadata": {"name": "deny"}, "spec": {
            "podSelector": {}, "policyTypes": ["Ingress"]}}),
        ("CronJob", f"/apis/batch/v1/namespaces/{ns}/cronjobs", {"metadata": {"name": "nightly"}, "spec": {
            "schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": job_template}}}}),
        ("Job", f"/apis/batch/v1/namespaces/{ns}/jobs", {"metadata": {"name": "once"}, "spec": {
            "suspend": True, "template": job_template}}),
    ]


@dataclass(frozen=True)
class Seeded:
    namespace: str
    group: str  # the CRD's group
    expected: set[tuple[str, str | None, str]]  # (kind, namespace, name) of every object created


@contextmanager
def seeded_objects(kube: Kube, namespace: str, widgets: int = 3) -> Iterator[Seeded]:
    """One object of every default kind plus a CRD with ``widgets`` custom resources; cluster-scoped ones
    (PV, ClusterRole(Binding), CRD) are deleted afterwards."""
    suffix = secrets.token_hex(3)
    group = f"t{suffix}.k3s-dr.test"
    cluster_paths = [f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"]
    expected: set[tuple[str, str | None, str]] = {("Namespace", None, namespace),
                                                  ("CustomResourceDefinition", None, f"widgets.{group}")}
    try:
        create(kube, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body(group))
        for kind, path, body in default_kind_bodies(namespace, suffix):
            created = create(kube, path, body)
            scoped = "/namespaces/" in path
            expected.add((kind, namespace if scoped else None, created["metadata"]["name"]))
            if not scoped:
                cluster_paths.append(f"{path}/{created['metadata']['name']}")
        wait_for(lambda: kube.request("GET", f"/apis/{group}/v1").ok, 60, f"{group}/v1 served")
        for i in range(widgets):
            create(kube, f"/apis/{group}/v1/namespaces/{namespace}/widgets", {
                "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": f"w{i}"}, "spec": {"size": i}})
            expected.add(("Widget", namespace, f"w{i}"))
        yield Seeded(namespace, group, expected)
    finally:
        for path in cluster_paths:
            delete(kube, path)


def archive_objects(path: Path) -> list[dict[str, Any]]:
    from dr_lib.archive import iter_archive_objects  # noqa: PLC0415 - keep this module light

    return [obj for _, obj in iter_archive_objects(path)]


def identities(objects: list[dict[str, Any]]) -> set[tuple[str, str | None, str]]:
    return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
