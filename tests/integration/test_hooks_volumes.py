"""Volume copies through the real CLI on the local cluster, no real node needed.

kwok's simulated pods never run a process, but the API objects are real: a pod on a kwok node
whose claim is bound to a hostPath volume resolves to a directory, and with that node listed
in ``hooks.local_nodes`` (its "disk" is this machine's) the backup copies it. Restore puts it
back before any object is created — into a missing directory, never over newer data unless
told to, and then only after moving the old data aside.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from _backup_helpers import cli, isolated_env

from dr_lib.archive.access import read_manifest
from dr_lib.hooks.pvdata import tree_digest
from dr_lib.kube.client import Kube

pytestmark = pytest.mark.slow


def objects(ns: str, data: Path) -> list[tuple[str, dict[str, Any]]]:
    pv = f"vol-{ns}"
    return [
        ("/api/v1/persistentvolumes", {"metadata": {"name": pv}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path-test",
            "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(data)}}}),
        (f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {"metadata": {"name": "uploads"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path-test", "volumeName": pv,
            "resources": {"requests": {"storage": "1Gi"}}}}),
        (f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "web-0", "annotations": {
            "backup.k3s-dr.io/volumes": "uploads"}}, "spec": {
            "containers": [{"name": "web", "image": "docker.io/local/debian:bookworm"}],  # kwok: nothing runs
            "volumes": [{"name": "uploads", "persistentVolumeClaim": {"claimName": "uploads"}}]}}),
    ]


def running(kube: Kube, ns: str) -> bool:
    status = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/web-0").body.get("status") or {}
    return status.get("phase") == "Running"


def test_a_volume_is_copied_and_put_back_without_overwriting_newer_data(cluster: Any, kube: Kube, namespace: str,
                                                                        tmp_path: Path) -> None:
    data = tmp_path / "node" / "uploads"
    (data / "2026" / "11").mkdir(parents=True)
    for index in range(20):
        (data / "2026" / "11" / f"video-{index}.bin").write_bytes(os.urandom(10_000 + index))
    (data / "index.json").write_text(json.dumps({"videos": 20}))
    for path, body in objects(namespace, data):
        assert kube.request("POST", path, body=body).ok
    deadline = time.monotonic() + 60
    while not running(kube, namespace):
        assert time.monotonic() < deadline, "the kwok pod never ran"
        time.sleep(0.5)
    nodes = [n["metadata"]["name"] for n in kube.get("/api/v1/nodes")["items"]]
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"hooks": {"local_nodes": nodes}}))
    env = isolated_env(tmp_path, K3S_DR_RESTORE_STATE_DIR=str(tmp_path / "state"))
    expected = tree_digest(data)

    run = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b", "-n", namespace, "--json",
              env=env)
    assert run.code == 0, run.stderr
    volume = run.json["data"]["volumes"][0]
    assert (volume["files"], volume["content_bytes"], volume["tree_sha256"]) == expected
    assert volume["mode"] == "consistent-enough"
    entry = read_manifest(Path(run.json["archive"])).data[0]
    assert entry.path == f"data/volumes/{namespace}/uploads.tar"
    assert entry.meta["claim"] == "uploads" and entry.meta["node_path"] == str(data)

    # the directory is lost: restore puts it back (the objects still exist: skipped)
    shutil.rmtree(data)
    archive = run.json["archive"]
    restore = cli("restore", archive, "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json", env=env)
    assert restore.code == 0, restore.stderr
    placed = restore.json["data"]["volumes"][0]
    assert (placed["action"], placed["verified"]) == ("placed", True)
    assert tree_digest(data) == expected

    # newer data is there: kept by default...
    (data / "index.json").write_text(json.dumps({"videos": 21}))
    again = cli("restore", archive, "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json", env=env)
    assert again.json["data"]["volumes"][0]["action"] == "kept-existing"
    assert json.loads((data / "index.json").read_text()) == {"videos": 21}

    # ...and with restore_volumes: replace, moved aside, never deleted
    config.write_text(json.dumps({"hooks": {"local_nodes": nodes, "restore_volumes": "replace"}}))
    replaced = cli("restore", archive, "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json", env=env)
    result = replaced.json["data"]["volumes"][0]
    assert result["action"] == "replaced"
    assert json.loads((Path(result["moved_aside"]) / "index.json").read_text()) == {"videos": 21}
    assert tree_digest(data) == expected

    # without the node listed as local, the backup says where the volume lives and leaves it out (an annotation's
    # volume: on-error continue by default, so the rest of the cluster is still backed up, partial, exit 3)
    config.write_text("{}\n")
    refused = cli("backup", "--kubeconfig", cluster.kubeconfig, "--dir", tmp_path / "b2", "-n", namespace, env=env)
    assert refused.code == 3
    assert f"volume 'uploads' of pod {namespace}/web-0: it lives on node" in refused.stderr
    [partial] = (tmp_path / "b2").glob("k3s-dr-*.tar.gz")
    left_out = read_manifest(partial)
    assert left_out.data == () and f"volume 'uploads' of pod {namespace}/web-0" in left_out.data_failures[0]
