"""Each supported Kubernetes release the test bed builds starts, answers /version with its own
tag, runs its version-dependent flags, schedules a workload, and keeps its release on resume.

Tests over ``each_kubernetes_version`` run once per release CI builds (oldest and newest;
``--all-kubernetes-versions`` for every supported one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dr_lib.errors import ExitCode
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.state import load_state
from k3s_dr_testbed.clusters.versionflags import APISERVER, CONTROLLER_MANAGER, flags_for

REPO = Path(__file__).resolve().parents[2]


def k3s_dr(*args: str, home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dr_lib", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "K3S_DR_HOME": str(home)}, cwd=REPO, check=False)


def cmdline(pid: int) -> list[str]:
    return [arg.decode() for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]


def test_cluster_up_json_names_the_asked_release(each_kubernetes_version: str, tmp_path: Path) -> None:
    """The Interface: `cluster up --name N --kubernetes-version 1.37 --json` → kubernetes_version v1.37.*"""
    release = versions.resolve(each_kubernetes_version)
    name = f"v{release.minor_number}"
    up = k3s_dr("cluster", "up", "--name", name, "--nodes", "1", "--kubernetes-version", release.minor, "--json",
                home=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        result = json.loads(up.stdout)
        assert result["kubernetes_version"].startswith(f"v{release.minor}.")
        assert result["kubernetes_version"] == result["versions"]["kubernetes"] == release.kubernetes
        with Kube.from_kubeconfig(result["kubeconfig"]) as kube:
            served = kube.get("/version")
        assert served["gitVersion"] == release.kubernetes
        assert (served["major"], served["minor"]) == ("1", str(release.minor_number))
    finally:
        k3s_dr("cluster", "down", "--name", name, home=tmp_path)
    assert not (tmp_path / "clusters" / name).exists()


def test_each_release_runs_its_own_flags_and_schedules_a_deployment(cluster_of_each_version: Any,
                                                                    each_kubernetes_version: str) -> None:
    release = versions.resolve(each_kubernetes_version)
    assert cluster_of_each_version.kubernetes_version == release.kubernetes
    argv = {p.name: cmdline(p.pid) for p in cluster_of_each_version.state.processes}
    assert set(flags_for(APISERVER, release.kubernetes)) <= set(argv["kube-apiserver"])
    controllers = [a for a in argv["kube-controller-manager"] if a.startswith("--controllers=")]
    assert controllers == flags_for(CONTROLLER_MANAGER, release.kubernetes)
    labels = {"app": "versions"}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "versions", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "local/never-pulled:1"}]}}},
    }
    with Kube.from_kubeconfig(cluster_of_each_version.kubeconfig) as kube:
        assert kube.request("POST", "/apis/apps/v1/namespaces/default/deployments", body=deployment).ok
        deadline = time.monotonic() + 60
        ready = 0
        while time.monotonic() < deadline:
            status = kube.get("/apis/apps/v1/namespaces/default/deployments/versions").get("status", {})
            ready = status.get("readyReplicas", 0)
            if ready == 2:
                break
            time.sleep(0.5)
    assert ready == 2, f"{release.kubernetes}: the Deployment has {ready} of 2 replicas ready on kwok nodes"


def test_a_stopped_cluster_resumes_on_its_own_release_only(tmp_path: Path) -> None:
    old, new = versions.oldest(), versions.newest()
    up = k3s_dr("cluster", "up", "--name", "keeper", "--nodes", "0", "--kubernetes-version", old.minor, "--json",
                home=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert k3s_dr("cluster", "down", "--name", "keeper", "--keep-dir", home=tmp_path).returncode == 0
        refused = k3s_dr("cluster", "up", "--name", "keeper", "--kubernetes-version", new.minor, home=tmp_path)
        assert refused.returncode == ExitCode.USAGE
        assert refused.stderr.strip() == (
            f"k3s-dr: error: cluster 'keeper' was created with Kubernetes {old.kubernetes}; resuming it with "
            f"{new.kubernetes} is not supported (omit --kubernetes-version, or remove it first: "
            "`k3s-dr cluster down --name keeper`)")
        resumed = k3s_dr("cluster", "up", "--name", "keeper", "--json", home=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["kubernetes_version"] == old.kubernetes
        state = load_state(tmp_path / "clusters" / "keeper")
        assert state is not None and state.versions["kubernetes"] == old.kubernetes
    finally:
        k3s_dr("cluster", "down", "--name", "keeper", home=tmp_path)


def test_an_unsupported_release_is_refused_with_the_list(tmp_path: Path) -> None:
    for command in (("cluster", "up", "--name", "old"), ("cluster", "build"), ("drill",)):
        result = k3s_dr(*command, "--kubernetes-version", "1.34", home=tmp_path, timeout=60)
        assert result.returncode == ExitCode.USAGE, (command, result.stderr)
        assert result.stderr.strip() == (f"k3s-dr: error: Kubernetes version '1.34' is not supported: accepted is "
                                         f"{versions.accepted_text()}"), command
    assert not (tmp_path / "clusters" / "old").exists()
