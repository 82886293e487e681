"""The application a drill seeds: InsightLearn, modelled on the seed report's cluster, as data.

Three namespaces (web + API, data, ops), two Deployments behind ClusterIP, NodePort and
Ingress fronts, a database StatefulSet on a statically bound PV/PVC pair with a headless
Service, ConfigMaps, Secrets, RBAC at namespace and cluster scope, a NetworkPolicy, a
suspended CronJob and a CRD with custom resources. Every object carries the drill label so a
drill on a shared cluster (``--cluster kubeconfig``) touches only what it created.

Every container runs a real process from an image the target can start (no registry, no
placeholder: :mod:`dr_lib.drill.images`): small HTTP servers with readiness probes a real kubelet
checks, the database a SQLite script. On kwok's simulated nodes nothing runs, and the drill's
evidence says so.

Pure: building the list does no I/O. :func:`application` is what seeding applies, in order.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dr_lib.drill.images import APP, DB_DUMP, images_used, role_stand_ins, role_users
from dr_lib.jsontypes import JSONObject

DRILL_LABEL = "k3s-dr.io/drill"
PART_OF = "insightlearn"
APP_GROUP = "insightlearn.example.com"
WEB_NS = "insightlearn"
DATA_NS = "insightlearn-data"
OPS_NS = "insightlearn-ops"
NAMESPACES = (WEB_NS, DATA_NS, OPS_NS)
WEB_NODE_PORT = 30080

# Secret values are long and unmistakable on purpose: the redaction test greps every report
# file for them (plain and base64), so a leak cannot hide behind a common word.
SECRET_VALUES: dict[str, str] = {
    "jwt-signing-key": "drill-jwt-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4",
    "db-connection": "Server=db.insightlearn-data;User=app;Password=drill-pw-3c8e1f5a9b7d",
    "db-password": "drill-pw-3c8e1f5a9b7d",
    "db-root-password": "drill-root-9e2b7c4a1f6d8e03",
    "grafana-admin": "drill-grafana-5d1c7e9a3b8f2c46",
}


@dataclass(frozen=True)
class AppOptions:
    """How the application's pods run: which images (role → reference, :data:`dr_lib.drill.images.ROLES`)
    and how they reach the node (``Never``: loaded into it; ``IfNotPresent``: the cluster pulls them);
    with ``real_node`` the database is pinned to the test bed's real node and its volume backed up."""

    drill_id: str
    images: Mapping[str, str]
    pull_policy: str = "Never"
    real_node: bool = False
    real_node_name: str = "localhost"
    data_root: str = "/tmp/k3s-dr-drill"  # hostPath root of the database PV (the real node's disk)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _meta(name: str, options: AppOptions, namespace: str | None = None, **labels: str) -> JSONObject:
    meta: JSONObject = {
        "name": name,
        "labels": {DRILL_LABEL: options.drill_id, "app.kubernetes.io/part-of": PART_OF, **labels},
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _obj(api_version: str, kind: str, metadata: JSONObject, **body: Any) -> JSONObject:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def namespaces(options: AppOptions) -> list[JSONObject]:
    return [_obj("v1", "Namespace", _meta(ns, options)) for ns in NAMESPACES]


def _image(role: str, options: AppOptions) -> str:
    """The role's image; one image may serve every role (drill.images.db_dump falls back to app)."""
    return options.images.get(role) or options.images[APP]


def _http_container(name: str, port: int, options: AppOptions, **extra: Any) -> JSONObject:
    """A container really serving HTTP on ``port``, with a readiness probe that a real kubelet checks."""
    return {
        "name": name,
        "image": _image(APP, options),
        "imagePullPolicy": options.pull_policy,
        "command": ["python3", "-m", "http.server", str(port)],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2, "failureThreshold": 30},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        **extra,
    }


def _pod_template(app: str, containers: list[JSONObject], options: AppOptions, *,
                  real: bool = False, **spec: Any) -> JSONObject:
    pod_spec: JSONObject = {"containers": containers, "terminationGracePeriodSeconds": 5, **spec}
    if real and options.real_node:
        pod_spec["nodeSelector"] = {"kubernetes.io/hostname": options.real_node_name}
    return {"metadata": {"labels": {"app": app}}, "spec": pod_spec}


def _deployment(name: str, namespace: str, replicas: int, template: JSONObject, options: AppOptions) -> JSONObject:
    return _obj("apps/v1", "Deployment", _meta(name, options, namespace, app=name),
                spec={"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template})


def _service(name: str, namespace: str, app: str, port: int, options: AppOptions, **spec: Any) -> JSONObject:
    ports = [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]
    if "nodePort" in spec:
        ports[0]["nodePort"] = spec.pop("nodePort")
    return _obj("v1", "Service", _meta(name, options, namespace, app=app),
                spec={"selector": {"app": app}, "ports": ports, **spec})


def web_tier(options: AppOptions) -> list[JSONObject]:
    """Front end and API in one namespace, as the seed's cluster ran them."""
    ns = WEB_NS
    api_env = [
        {"name": "ASPNETCORE_ENVIRONMENT",
         "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "environment"}}},
        {"name": "JWT_SIGNING_KEY", "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "jwt-signing-key"}}},
    ]
    return [
        _obj("v1", "ConfigMap", _meta("web-config", options, ns),
             data={"nginx.conf": "server { listen 8080; location /api/ { proxy_pass http://api:8081; } }\n"}),
        _obj("v1", "ConfigMap", _meta("api-config", options, ns),
             data={"environment": "Production", "appsettings.json": '{"Logging": {"LogLevel": "Information"}}'}),
        _obj("v1", "Secret", _meta("api-secrets", options, ns), type="Opaque",
             data={k: _b64(SECRET_VALUES[k]) for k in ("jwt-signing-key", "db-connection")}),
        _obj("v1", "ServiceAccount", _meta("api", options, ns)),
        _obj("rbac.authorization.k8s.io/v1", "Role", _meta("api-config-reader", options, ns),
             rules=[{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": [APP_GROUP], "resources": ["courses"], "verbs": ["get", "list", "watch"]}]),
        _obj("rbac.authorization.k8s.io/v1", "RoleBinding", _meta("api-config-reader", options, ns),
             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "api-config-reader"},
             subjects=[{"kind": "ServiceAccount", "name": "api", "namespace": ns}]),
        _deployment("web", ns, 2, _pod_template("web", [_http_container("web", 8080, options)], options), options),
        _deployment("api", ns, 2, _pod_template(
            "api", [_http_container("api", 8081, options, env=api_env)], options, serviceAccountName="api"), options),
        _service("web", ns, "web", 80, options, type="ClusterIP"),
        _service("web-nodeport", ns, "web", 80, options, type="NodePort", nodePort=WEB_NODE_PORT),
        _service("api", ns, "api", 8081, options, type="ClusterIP"),
        _obj("networking.k8s.io/v1", "Ingress", _meta("insightlearn", options, ns), spec={
            "rules": [{"host": "insightlearn.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                {"path": "/api", "pathType": "Prefix",
                 "backend": {"service": {"name": "api", "port": {"number": 8081}}}},
            ]}}],
        }),
    ]


# The database keeps a row count in SQLite on its claim and serves it: on the real node the
# restored pod finds the data the source wrote, because the PV (the disk) outlived the cluster.
_DB_SCRIPT = (
    "import http.server, sqlite3, os\n"
    "db = sqlite3.connect('/var/lib/insightlearn/app.db')\n"
    "db.execute('create table if not exists boots (at text)'); db.execute(\"insert into boots values (datetime())\")\n"
    "db.commit()\n"
    "http.server.ThreadingHTTPServer(('', 1433), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


# The nightly dump (suspended in a drill): the database serves its own file, the job keeps its checksum.
_DUMP_SCRIPT = (
    "import hashlib, urllib.request\n"
    "data = urllib.request.urlopen('http://db.insightlearn-data:1433/var/lib/insightlearn/app.db', timeout=60).read()\n"
    "print(len(data), hashlib.sha256(data).hexdigest())\n"
)


def _with_volume_backup(template: JSONObject, options: AppOptions) -> JSONObject:
    """On the real node the database's volume is real: k3s-dr copies it into the archive (docs/hooks.md)."""
    if options.real_node:
        template["metadata"]["annotations"] = {"backup.k3s-dr.io/volumes": "data"}
    return template


def data_tier(options: AppOptions) -> list[JSONObject]:
    """The database: a StatefulSet with a claim on a statically provisioned, bound PV."""
    ns = DATA_NS
    db = _http_container("db", 1433, options, volumeMounts=[{"name": "data", "mountPath": "/var/lib/insightlearn"}],
                         env=[{"name": "DB_PASSWORD",
                               "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "db-password"}}}],
                         command=["python3", "-c", _DB_SCRIPT])
    pv_name = f"insightlearn-db-{options.drill_id}"
    return [
        _obj("v1", "Secret", _meta("db-credentials", options, ns), type="Opaque",
             data={k: _b64(SECRET_VALUES[k]) for k in ("db-password", "db-root-password")}),
        _obj("v1", "ConfigMap", _meta("db-init", options, ns),
             data={"init.sql": "CREATE TABLE IF NOT EXISTS courses (id INTEGER PRIMARY KEY, title TEXT);\n"}),
        _obj("v1", "PersistentVolume", _meta(pv_name, options, app="db"), spec={
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "insightlearn-static",
            "hostPath": {"path": f"{options.data_root}/{options.drill_id}/db", "type": "DirectoryOrCreate"},
        }),
        _obj("v1", "PersistentVolumeClaim", _meta("db-data", options, ns, app="db"), spec={
            "accessModes": ["ReadWriteOnce"], "storageClassName": "insightlearn-static",
            "volumeName": pv_name, "resources": {"requests": {"storage": "1Gi"}},
        }),
        _service("db", ns, "db", 1433, options, clusterIP="None"),
        _obj("apps/v1", "StatefulSet", _meta("db", options, ns, app="db"), spec={
            "serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
            "template": _with_volume_backup(_pod_template(
                "db", [db], options, real=True,
                volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}}]), options),
        }),
        _obj("networking.k8s.io/v1", "NetworkPolicy", _meta("db-from-api", options, ns), spec={
            "podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": WEB_NS}}}],
                         "ports": [{"protocol": "TCP", "port": 1433}]}],
        }),
        _obj("batch/v1", "CronJob", _meta("db-dump", options, ns), spec={
            "schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "dump", "image": _image(DB_DUMP, options),
                                "imagePullPolicy": options.pull_policy, "command": ["python3", "-c", _DUMP_SCRIPT]}],
            }}}},
        }),
    ]


def ops_tier(options: AppOptions) -> list[JSONObject]:
    """Monitoring, with a ClusterRole: the cluster-scoped RBAC a restore must bring back."""
    ns = OPS_NS
    name = f"insightlearn-metrics-{options.drill_id}"
    return [
        _obj("v1", "ServiceAccount", _meta("metrics-exporter", options, ns)),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRole", _meta(name, options), rules=[
            {"apiGroups": [""], "resources": ["pods", "nodes", "persistentvolumeclaims"], "verbs": ["get", "list"]}]),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", _meta(name, options),
             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
             subjects=[{"kind": "ServiceAccount", "name": "metrics-exporter", "namespace": ns}]),
        _obj("v1", "Secret", _meta("grafana-admin", options, ns), type="Opaque",
             stringData={"password": SECRET_VALUES["grafana-admin"]}),
        _obj("v1", "ConfigMap", _meta("dashboards", options, ns),
             data={"disaster-recovery.json": '{"title": "Disaster Recovery & Backups", "panels": []}'}),
        _deployment("metrics-exporter", ns, 1, _pod_template(
            "metrics-exporter", [_http_container("metrics-exporter", 9101, options)], options,
            serviceAccountName="metrics-exporter"), options),
        _service("metrics-exporter", ns, "metrics-exporter", 9101, options, type="ClusterIP"),
    ]


def course_crd(options: AppOptions) -> JSONObject:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "title": {"type": "string"}, "level": {"type": "string"},
        "modules": {"type": "array", "items": {"type": "string"}}}}}}
    return _obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", _meta(f"courses.{APP_GROUP}", options), spec={
        "group": APP_GROUP, "scope": "Namespaced",
        "names": {"plural": "courses", "singular": "course", "kind": "Course", "listKind": "CourseList"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
    })


COURSES = (
    ("k8s-basics", "Kubernetes basics", "beginner", ["pods", "services", "deployments"]),
    ("disaster-recovery", "Disaster recovery for k3s", "advanced", ["backup", "restore", "drills"]),
    ("blazor-wasm", "Blazor WebAssembly", "intermediate", ["components", "interop"]),
)


def courses(options: AppOptions) -> list[JSONObject]:
    return [_obj(f"{APP_GROUP}/v1", "Course", _meta(name, options, WEB_NS),
                 spec={"title": title, "level": level, "modules": modules})
            for name, title, level, modules in COURSES]


def application(options: AppOptions) -> list[JSONObject]:
    """Every object of the application, in an order the API server accepts (CRD before its objects).

    Volumes come first and claims last: the volume binder looks a claim's ``volumeName`` up in
    its informer cache and, when the volume is not there yet, retries only at its next resync
    (15 s), so a claim created right after its volume can wait that long to bind.
    """
    objects = [*web_tier(options), *data_tier(options), *ops_tier(options)]
    volumes = [o for o in objects if o["kind"] == "PersistentVolume"]
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    rest = [o for o in objects if o["kind"] not in ("PersistentVolume", "PersistentVolumeClaim")]
    return [*namespaces(options), *volumes, course_crd(options), *rest, *courses(options), *claims]


def secret_values() -> tuple[str, ...]:
    """The application's secret values, for tests that prove a report never shows them."""
    return tuple(SECRET_VALUES.values())


def image_users() -> dict[str, list[str]]:
    """role → the objects whose pods run that role's image (for the refusal when a role has no image)."""
    return role_users(images_used(application(AppOptions("x", images=role_stand_ins()))))
