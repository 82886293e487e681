"""The seeded application: modelled on the seed's InsightLearn, every kind a drill must prove."""

from __future__ import annotations

from collections import Counter

import pytest

from dr_lib.drill import live
from dr_lib.drill.app import DRILL_LABEL, NAMESPACES, AppOptions, application, image_users, secret_values
from dr_lib.drill.images import ROLES, containers, images_used
from dr_lib.drill.redact import secret_strings

LOCAL = "docker.io/local/debian:bookworm"
IMAGES = {"app": LOCAL, "db_dump": LOCAL}


@pytest.fixture
def objects() -> list[dict]:
    return application(AppOptions("abc123", images=IMAGES))


def _kinds(objects: list[dict]) -> Counter[str]:
    return Counter(o["kind"] for o in objects)


def test_every_kind_the_issue_names(objects: list[dict]) -> None:
    kinds = _kinds(objects)
    assert kinds["Namespace"] >= 3
    for kind in ("Deployment", "StatefulSet", "ConfigMap", "Secret", "Service", "Ingress", "Role", "RoleBinding",
                 "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "CustomResourceDefinition", "Course",
                 "PersistentVolume", "PersistentVolumeClaim", "NetworkPolicy", "CronJob"):
        assert kinds[kind] >= 1, kind
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert {"web", "api"} <= deployments


def test_services_cluster_ip_node_port_and_headless(objects: list[dict]) -> None:
    services = [o["spec"] for o in objects if o["kind"] == "Service"]
    assert any(s.get("type") == "ClusterIP" for s in services)
    assert any(s.get("type") == "NodePort" and s["ports"][0].get("nodePort") for s in services)
    assert any(s.get("clusterIP") == "None" for s in services)


def test_database_statefulset_claims_a_statically_bound_volume(objects: list[dict]) -> None:
    pv = next(o for o in objects if o["kind"] == "PersistentVolume")
    pvc = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pvc["spec"]["storageClassName"] == pv["spec"]["storageClassName"]
    volumes = sts["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain", "a drill must never delete data"


def test_order_the_api_server_accepts(objects: list[dict]) -> None:
    index = {(o["kind"], o["metadata"]["name"]): i for i, o in enumerate(objects)}
    first_namespaced = min(i for i, o in enumerate(objects) if o["metadata"].get("namespace"))
    assert max(i for i, o in enumerate(objects) if o["kind"] == "Namespace") < first_namespaced
    crd = next(i for (kind, _), i in index.items() if kind == "CustomResourceDefinition")
    assert all(i > crd for (kind, _), i in index.items() if kind == "Course")
    pv = next(i for (kind, _), i in index.items() if kind == "PersistentVolume")
    pvc = next(i for (kind, _), i in index.items() if kind == "PersistentVolumeClaim")
    assert pv < pvc


def test_every_object_is_labelled_with_the_drill_and_known_to_the_seeder(objects: list[dict]) -> None:
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys))
    for obj in objects:
        assert obj["metadata"]["labels"][DRILL_LABEL] == "abc123"
        assert live.type_of(obj).kind == obj["kind"]
        assert obj["metadata"].get("namespace") in (None, *NAMESPACES)


def test_cluster_scoped_names_carry_the_drill_id(objects: list[dict]) -> None:
    """Two drills on one shared cluster never collide on cluster-scoped objects they own."""
    for obj in objects:
        if not obj["metadata"].get("namespace") and obj["kind"] not in ("Namespace", "CustomResourceDefinition"):
            assert "abc123" in obj["metadata"]["name"], obj["kind"]


def test_secret_values_are_all_in_the_secrets(objects: list[dict]) -> None:
    found = set().union(*(secret_strings(o) for o in objects))
    assert set(secret_values()) <= found


def test_real_node_pins_the_database_to_it_and_backs_up_its_volume() -> None:
    objects = application(AppOptions("abc123", images=IMAGES, real_node=True))
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "localhost"}
    assert sts["spec"]["template"]["metadata"]["annotations"] == {"backup.k3s-dr.io/volumes": "data"}
    fake = application(AppOptions("abc123", images=IMAGES))
    assert "nodeSelector" not in next(o for o in fake if o["kind"] == "StatefulSet")["spec"]["template"]["spec"]


def test_every_container_runs_a_real_process_from_the_images_given(objects: list[dict]) -> None:
    """No placeholder anywhere: each container names an image of the options and runs python3 from it."""
    found = [(o["kind"], c) for o in objects for c in containers(o)]
    assert len(found) == 5, "web, api, db, metrics-exporter, db-dump"
    for kind, container in found:
        assert container["image"] == LOCAL, (kind, container["name"])
        assert container["imagePullPolicy"] == "Never"
        assert container["command"][0] == "python3", container["name"]
    db = next(c for o in objects if o["kind"] == "StatefulSet" for c in containers(o))
    assert "sqlite3" in db["command"][-1]
    servers = [c for _kind, c in found if c.get("readinessProbe")]
    assert {c["readinessProbe"]["httpGet"]["port"] for c in servers} == {c["ports"][0]["containerPort"]
                                                                         for c in servers}
    assert "example.com/" not in repr([c["image"] for _kind, c in found])


def test_named_images_and_pull_policy_reach_every_container() -> None:
    named = {"app": "registry.internal:5000/debian/python3:12", "db_dump": "registry.internal:5000/tools/dump@sha256:"
             + "a" * 64}
    objects = application(AppOptions("abc123", images=named, pull_policy="IfNotPresent"))
    used = images_used(objects)
    assert used[named["db_dump"]] == ["CronJob insightlearn-data/db-dump"]
    assert len(used[named["app"]]) == 4
    assert {c["imagePullPolicy"] for o in objects for c in containers(o)} == {"IfNotPresent"}


def test_db_dump_falls_back_to_the_app_image() -> None:
    objects = application(AppOptions("abc123", images={"app": "mirror.local/python:3"}))
    assert set(images_used(objects)) == {"mirror.local/python:3"}


def test_image_users_name_the_objects_of_each_role() -> None:
    users = image_users()
    assert set(users) == set(ROLES)
    assert users["app"] == ["Deployment insightlearn/web", "Deployment insightlearn/api",
                            "StatefulSet insightlearn-data/db", "Deployment insightlearn-ops/metrics-exporter"]
    assert users["db_dump"] == ["CronJob insightlearn-data/db-dump"]
