"""Real applications for the application-data tests: PostgreSQL, MariaDB, Redis and a file-writing app.

The servers are Debian's (images ``local/k3s-dr-db:bookworm`` and ``local/k3s-dr-servers:bookworm``,
built here by :mod:`k3s_dr_testbed.apps.images`); their passwords come from Secrets through
``secretKeyRef`` and the hooks must present them, so a leak would have something to leak.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dr_lib.kube.client import Kube
from dr_lib.kube.exec import ExecResult, exec_in_pod
from k3s_dr_testbed.apps.images import servers_image_tar
from k3s_dr_testbed.apps.manifests import APP_IMAGE, JSONObject
from k3s_dr_testbed.realnode.config import NodeLayout
from k3s_dr_testbed.realnode.host import ctr
from tests.skip_rule import unavailable

PG_PASSWORD = "pg-Sup3r-s3cret-7f2c9a41d"  # long and unmistakable: tests grep outputs for it
MARIADB_PASSWORD = "mdb-Sup3r-s3cret-2b81e0c47"
REDIS_PASSWORD = "rds-Sup3r-s3cret-95d3a7e16"
PASSWORDS = (PG_PASSWORD, MARIADB_PASSWORD, REDIS_PASSWORD)


def servers_image_or_skip() -> Path:
    """One tar with both the PostgreSQL image and the MariaDB/Redis image."""
    from dr_lib.errors import EnvironmentProblem  # noqa: PLC0415

    try:
        return servers_image_tar(time.monotonic() + 1200)
    except EnvironmentProblem as exc:  # a skip on a developer's machine; in CI the run fails loudly
        unavailable(f"the database images cannot be built here (docker engine / Debian mirror): {exc}")


def import_image(cluster: Any, tar: Path) -> None:
    socket = NodeLayout(Path(cluster.dir) / "node").containerd_socket
    ctr(socket, ["images", "import", str(tar)], time.monotonic() + 300, f"importing {tar.name} into the node")


def create(kube: Kube, obj: JSONObject) -> None:
    kind = obj["kind"]
    namespace = obj["metadata"].get("namespace")
    plural = {"Namespace": "namespaces", "Secret": "secrets", "StatefulSet": "statefulsets", "Pod": "pods",
              "PersistentVolume": "persistentvolumes", "PersistentVolumeClaim": "persistentvolumeclaims",
              "Service": "services"}[kind]
    base = "/apis/apps/v1" if kind == "StatefulSet" else "/api/v1"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    response = kube.request("POST", path, body=obj)
    assert response.ok or response.status == 409, f"creating {kind} {obj['metadata']['name']}: {response.reason}"


def namespace(name: str) -> JSONObject:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def secret(ns: str, name: str, **values: str) -> JSONObject:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": values}


def sleeper_pod(ns: str, name: str, annotations: dict[str, str], *, image: str = APP_IMAGE,
                command: str = "sleep infinity", env: list[JSONObject] | None = None) -> JSONObject:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": "localhost"}, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                                     "command": ["/bin/sh", "-c", command], "env": env or []}]}}


def wait_ready(kube: Kube, ns: str, pod: str, timeout: float = 120) -> JSONObject:
    deadline = time.monotonic() + timeout
    last: JSONObject = {}
    while time.monotonic() < deadline:
        response = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}")
        last = response.body
        status = last.get("status") if response.ok else None  # a 404 is a Status object, its "status" a word
        conditions = (status or {}).get("conditions") or []
        if response.ok and any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return last
        time.sleep(0.5)
    raise AssertionError(f"pod {ns}/{pod} not Ready in {timeout} s: {json.dumps(last.get('status'))[:800]}")


def sh(kube: Kube, ns: str, pod: str, container: str, script: str, timeout: float = 120) -> ExecResult:
    return exec_in_pod(kube, ns, pod, container, ["/bin/sh", "-c", script], timeout=timeout)


def psql(kube: Kube, ns: str, sql: str, pod: str = "pg-0") -> str:
    result = exec_in_pod(kube, ns, pod, "pg", ["runuser", "-u", "postgres", "--", "psql", "-h", "/run/postgresql",
                                               "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", "shop",
                                               "-c", sql], timeout=300)
    assert result.ok, f"psql failed: {result.exit_code} {result.failure} {result.stderr!r}"
    return result.stdout.decode().strip()


def delete_namespace(kube: Kube, ns: str, timeout: float = 180) -> None:
    """Delete ``ns`` and wait until the API server no longer has it (its pods gone with it)."""
    response = kube.request("DELETE", f"/api/v1/namespaces/{ns}")
    assert response.ok or response.status == 404, f"deleting namespace {ns}: {response.reason}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kube.request("GET", f"/api/v1/namespaces/{ns}").status == 404:
            return
        time.sleep(0.5)
    raise AssertionError(f"namespace {ns} still there after {timeout} s")


def mariadb(kube: Kube, ns: str, sql: str, pod: str = "mariadb-0") -> str:
    """Run ``sql`` (on stdin: no quoting of the database name by a shell) as root with the Secret's password."""
    result = exec_in_pod(kube, ns, pod, "db", ["/bin/sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" '
                                                                 "exec mariadb --user=root -N -B"],
                         stdin=sql.encode(), timeout=300)
    assert result.ok, f"mariadb failed: {result.exit_code} {result.failure} {result.stderr!r}"
    return result.stdout.decode().strip()


def mariadb_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def redis_eval(kube: Kube, ns: str, lua: str, pod: str = "redis-0") -> list[str]:
    """EVAL a Lua script in the pod's Redis (password from its environment); its reply, one line per item."""
    result = exec_in_pod(kube, ns, pod, "redis", ["/bin/sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" '
                                                                   'exec redis-cli --no-auth-warning EVAL "$1" 0',
                                                  "redis-eval", lua], timeout=120)
    assert result.ok, f"redis-cli failed: {result.exit_code} {result.failure} {result.stderr!r}"
    return result.stdout.decode().split()


def restart_pod(kube: Kube, ns: str, pod: str, timeout: float = 180) -> None:
    """Delete a StatefulSet's pod and wait until its successor (a new uid) is Ready."""
    uid = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}").body["metadata"]["uid"]
    response = kube.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{pod}")
    assert response.ok, f"deleting pod {ns}/{pod}: {response.reason}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}")
        if current.ok and current.body["metadata"]["uid"] != uid:
            wait_ready(kube, ns, pod, timeout=max(1.0, deadline - time.monotonic()))
            return
        time.sleep(0.5)
    raise AssertionError(f"pod {ns}/{pod} was not replaced within {timeout} s")
