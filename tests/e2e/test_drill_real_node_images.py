"""The drill on real kubelets only, with no registry: `--cluster kubeconfig` against a local cluster
whose only node is the real node (`k3s-dr cluster up --nodes 0 --real-node`), its images named in
`drill.images`. Every pod of the application must really run and turn Ready — watched from the API
server while the drill runs, not taken from the drill's own word — and a missing image must fail
the drill naming the pods and why; no image named at all is refused before anything starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dr_lib.drill.app import NAMESPACES
from dr_lib.drill.images import containers
from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube
from k3s_dr_testbed.realnode.images import APP_REF
from tests.e2e.test_drill_cli import run_drill_cli

K3S_DR = [sys.executable, "-m", "dr_lib"]
NODE = "localhost"
WORKLOADS = ("/apis/apps/v1/namespaces/{ns}/deployments", "/apis/apps/v1/namespaces/{ns}/statefulsets",
             "/apis/batch/v1/namespaces/{ns}/cronjobs")
APP_PODS = {"web": 2, "api": 2, "metrics-exporter": 1, "db": 1}  # app label → replicas
MISSING = "127.0.0.1:9/k3s-dr/missing:1"  # a registry on loopback that refuses: no traffic leaves the machine


@pytest.fixture(scope="module")
def real_node_only() -> Iterator[Path]:
    """`k3s-dr cluster up --nodes 0 --real-node`, as an operator starts it; down again at the end."""
    name = f"e2e-rn-{os.getpid()}"
    up = subprocess.run([*K3S_DR, "cluster", "up", "--name", name, "--nodes", "0", "--real-node", "--timeout", "240",
                         "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        yield Path(json.loads(up.stdout)["kubeconfig"])
    finally:
        down = subprocess.run([*K3S_DR, "cluster", "down", "--name", name], capture_output=True, text=True,
                              timeout=300, check=False)
        assert down.returncode == 0, down.stderr[-3000:]


@dataclass
class Watch:
    """What the API server said while the drill ran: every pod's best moment, every workload's images."""

    nodes: set[str] = field(default_factory=set)
    ready: dict[str, dict[str, Any]] = field(default_factory=dict)  # pod uid → its status when Running and Ready
    seen: dict[str, str] = field(default_factory=dict)  # pod uid → namespace/name
    images: set[str] = field(default_factory=set)
    polls: int = 0

    def poll(self, kube: Kube) -> None:
        self.nodes |= {n["metadata"]["name"] for n in kube.get("/api/v1/nodes").get("items") or []}
        for namespace in NAMESPACES:
            for pod in kube.get(f"/api/v1/namespaces/{namespace}/pods").get("items") or []:
                uid = pod["metadata"]["uid"]
                self.seen[uid] = f"{namespace}/{pod['metadata']['name']}"
                if _really_running(pod):
                    self.ready.setdefault(uid, pod)
            for path in WORKLOADS:
                for workload in kube.get(path.format(ns=namespace)).get("items") or []:
                    self.images |= {c.get("image") for c in containers(workload)}
        self.polls += 1


def _really_running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    statuses = status.get("containerStatuses") or []
    return (status.get("phase") == "Running" and ready and bool(statuses)
            and all(c.get("ready") and "running" in (c.get("state") or {}) for c in statuses))


def _watching(kubeconfig: Path, stop: threading.Event, watch: Watch) -> None:
    with Kube.from_kubeconfig(kubeconfig) as kube:
        while not stop.is_set():
            watch.poll(kube)
            stop.wait(0.5)


def _drill(kubeconfig: Path, reports: Path, image: str | None, watch: Watch | None = None,
           ) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("K3S_DR_DRILL_")}
    if image is not None:
        env["K3S_DR_DRILL_IMAGES_APP"] = image
    stop = threading.Event()
    watcher = threading.Thread(target=_watching, args=(kubeconfig, stop, watch), daemon=True) if watch else None
    if watcher is not None:
        watcher.start()
    try:
        return run_drill_cli(reports, "--cluster", "kubeconfig", "--kubeconfig", str(kubeconfig), env=env)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=30)


def _app_namespaces(kubeconfig: Path) -> list[str]:
    with Kube.from_kubeconfig(kubeconfig) as kube:
        names = [n["metadata"]["name"] for n in kube.get("/api/v1/namespaces").get("items") or []]
    return [n for n in names if n in NAMESPACES]


def test_every_pod_really_runs_on_the_real_node(real_node_only: Path, tmp_path: Path) -> None:
    watch = Watch()
    code, result, stderr = _drill(real_node_only, tmp_path, APP_REF, watch)
    assert code == 0, stderr[-3000:]
    assert result["verdict"] == "pass" and watch.polls > 10
    assert watch.nodes == {NODE}, "no simulated node to hide behind"
    assert watch.images == {APP_REF}, "every container of every applied workload runs the named image"
    ready = list(watch.ready.values())
    assert {p["spec"]["nodeName"] for p in ready} == {NODE}
    for app, replicas in APP_PODS.items():
        generations = [p for p in ready if p["metadata"]["labels"].get("app") == app]
        # the source's pods and, after the wipe, the restored ones: each Running and Ready on the real node
        assert len(generations) >= 2 * replicas, (app, [p["metadata"]["name"] for p in generations])
    never_ready = sorted(set(watch.seen) - set(watch.ready))
    assert never_ready == [], [watch.seen[uid] for uid in never_ready]
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    scope = evidence["coverage"]
    assert scope["simulated_nodes"] is False and scope["real_nodes"] is True
    for which in ("source", "target"):
        assert scope["pod_counts"][which] == {"pods": 6, "real": 6, "simulated": 0, "running_and_ready": 6}, which
    assert scope["images"]["refs"] == {"app": APP_REF, "db_dump": APP_REF}
    assert scope["images"]["pull_policy"] == "IfNotPresent"
    application = json.dumps(evidence)
    assert "example.com/" not in application.replace("insightlearn.example.com", "")
    assert _app_namespaces(real_node_only) == [], "the drill takes its application away again"


def test_an_image_the_node_cannot_get_fails_naming_the_pods(real_node_only: Path, tmp_path: Path) -> None:
    code, result, stderr = _drill(real_node_only, tmp_path, MISSING)
    assert code == ExitCode.FAILURE, stderr[-3000:]
    assert result["failed_step"] == "source" and result["steps"]["source"] == "failed"
    reason = result["reasons"][0]
    assert "ErrImagePull" in reason or "ImagePullBackOff" in reason, reason
    assert MISSING in reason
    for pod in ("insightlearn/web-", "insightlearn/api-", "insightlearn-data/db-0"):
        assert pod in reason, (pod, reason)
    assert "containers cannot start" in reason and "at the deadline" not in reason, "failed on the stuck pods"
    assert _app_namespaces(real_node_only) == []


def test_no_image_named_is_refused_before_anything_starts(real_node_only: Path, tmp_path: Path) -> None:
    done = subprocess.run([*K3S_DR, "drill", "--json", "--reports", str(tmp_path), "--cluster", "kubeconfig",
                           "--kubeconfig", str(real_node_only)], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("K3S_DR_DRILL_")},
                          check=False)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []
    for pod in ("Deployment insightlearn/web", "StatefulSet insightlearn-data/db", "CronJob insightlearn-data/db-dump"):
        assert pod in done.stderr
    assert "drill.images.app" in done.stderr
    assert _app_namespaces(real_node_only) == []
