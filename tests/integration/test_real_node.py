"""The real node: pods run real processes on this machine; probes, exec and hostPath work, two
nodes run side by side, and stopping one leaves no process, mount, bridge or port behind.

Needs root, the Debian packages the node uses and the Docker engine that builds its images;
the tests skip naming what is missing.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _kube import wait_for
from _real_node import skip_unless_real_node
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.stream import stream

from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster
from k3s_dr_testbed.clusters.ports import listening_ports
from k3s_dr_testbed.clusters.spec import ToolMissing
from k3s_dr_testbed.docker.mounts import current_mounts_under
from k3s_dr_testbed.realnode.config import NodeLayout
from k3s_dr_testbed.realnode.host import link_exists, pids_naming
from k3s_dr_testbed.realnode.images import APP_REF, prepare_image_tars
from tests.skip_rule import unavailable

pytestmark = [pytest.mark.real_node, pytest.mark.slow]



def start_real_cluster(name: str) -> Any:
    try:
        return start_cluster(ClusterSpec(name, nodes=1, real_node=True, owned_by_process=True))
    except ToolMissing as exc:
        unavailable(f"the local cluster cannot run here: {exc}")


@pytest.fixture(scope="module")
def real_cluster(pytestconfig: pytest.Config) -> Iterator[Any]:
    skip_unless_real_node(pytestconfig)
    # On a fresh machine the Debian image takes ~100 s to build: more than a cluster start may take.
    tars = prepare_image_tars(time.monotonic() + 1200)
    print(f"\nreal-node images ready in {tars.seconds:.1f} s")
    handle = start_real_cluster(f"rn{os.getpid()}")
    timings = json.loads(NodeLayout(Path(handle.dir) / "node").state_file.read_text())["timings"]
    print(f"cluster with a real node ready in {handle.seconds:.1f} s; the node's phases: {timings}")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def kube(real_cluster: Any) -> Iterator[Kube]:
    with Kube.from_kubeconfig(real_cluster.kubeconfig) as client:
        yield client


@pytest.fixture
def ns(real_cluster: Any, kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"rn-{request.node.name[5:30].replace('_', '-').strip('-')}-{random.randrange(10**6)}"
    assert kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}}).ok
    yield name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


def web_pod(name: str, port: int, host_dir: Path) -> dict[str, Any]:
    """python3's HTTP server over a hostPath directory, Ready only once it answers HTTP."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "localhost"},
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "web",
                    "image": APP_REF,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-m", "http.server", str(port), "--directory", "/data"],
                    "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "hostPath": {"path": str(host_dir), "type": "Directory"}}],
        },
    }


def run_ready_pod(kube: Kube, namespace: str, pod: dict[str, Any], timeout: float = 60) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    created = kube.request("POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
    assert created.ok, created.reason
    path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}"

    def ready() -> dict[str, Any] | None:
        body = kube.get(path)
        conditions = {c["type"]: c["status"] for c in body.get("status", {}).get("conditions", [])}
        return body if conditions.get("Ready") == "True" else None

    body = wait_for(ready, timeout, f"pod {pod['metadata']['name']} Ready")
    return body, time.monotonic() - started


def processes_with(fragment: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if fragment in line:
                found.append(int(entry.name))
    return found


def test_pod_runs_a_real_process_that_answers_its_readiness_probe(kube: Kube, ns: str, tmp_path: Path) -> None:
    port = random.randint(20000, 30000)
    (tmp_path / "from-machine.txt").write_text("written on the machine\n")
    pod, seconds = run_ready_pod(kube, ns, web_pod("web", port, tmp_path))
    print(f"\npod Ready {seconds:.1f} s after creation")
    assert pod["spec"]["nodeName"] == "localhost"
    # a real process on this machine, not a simulated one
    assert processes_with(f"python3 -m http.server {port} --directory /data")
    # the pod's IP (our bridge's subnet) serves the hostPath directory the machine wrote into
    pod_ip = pod["status"]["podIP"]
    assert pod_ip.startswith("10.88.")
    with urllib.request.urlopen(f"http://{pod_ip}:{port}/from-machine.txt", timeout=5) as answer:
        assert answer.read() == b"written on the machine\n"


def test_exec_through_the_client_stream_writes_a_file_seen_on_the_machine(
    real_cluster: Any, kube: Kube, ns: str, tmp_path: Path
) -> None:
    run_ready_pod(kube, ns, web_pod("shell", random.randint(20000, 30000), tmp_path))
    api = k8s_client.CoreV1Api(k8s_config.new_client_from_config(str(real_cluster.kubeconfig)))
    output = stream(
        api.connect_get_namespaced_pod_exec,
        "shell",
        ns,
        command=["sh", "-c", "echo exec-in-$HOSTNAME > /data/from-exec.txt && id -u"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert output.strip() == "0"
    assert (tmp_path / "from-exec.txt").read_text() == "exec-in-shell\n"


def node_traces(node_dir: Path, bridge: str) -> dict[str, Any]:
    """Everything a stopped real node must not leave on the machine."""
    links = [p for p in Path("/var/log/containers").glob("*") if str(p.readlink()).startswith(str(node_dir))]
    return {
        "processes": pids_naming(str(node_dir)),
        "mounts": current_mounts_under(node_dir),
        "bridge": link_exists(bridge, time.monotonic() + 5),
        "log_links": links,
    }


def test_a_second_real_node_runs_beside_the_first_and_stop_leaves_nothing_behind(
    real_cluster: Any, kube: Kube, tmp_path: Path
) -> None:
    first_state = json.loads((NodeLayout(Path(real_cluster.dir) / "node").state_file).read_text())
    second = start_real_cluster(f"rn{os.getpid()}b")
    try:
        layout = NodeLayout(Path(second.dir) / "node")
        state = json.loads(layout.state_file.read_text())
        assert state["bridge"] != first_state["bridge"]
        kubelet_port = json.loads(layout.kubelet_config.read_text())["port"]
        with Kube.from_kubeconfig(second.kubeconfig) as kube2:
            assert kube2.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "work"}}).ok
            run_ready_pod(kube2, "work", web_pod("web", random.randint(20000, 30000), tmp_path))
        assert node_traces(layout.dir, state["bridge"])["processes"]
        assert kubelet_port in listening_ports()
    finally:
        second.stop()
    assert node_traces(layout.dir, state["bridge"]) == {
        "processes": [], "mounts": [], "bridge": False, "log_links": []
    }
    assert kubelet_port not in listening_ports()
    # the first node was not disturbed
    node = kube.get("/api/v1/nodes/localhost")
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert link_exists(first_state["bridge"], time.monotonic() + 5)


def test_a_taken_kubelet_port_is_a_clear_error_and_leaves_nothing(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_unless_real_node(pytestconfig)
    from dr_lib.errors import EnvironmentProblem  # noqa: PLC0415
    from k3s_dr_testbed.clusters.binaries import locate_binaries  # noqa: PLC0415
    from k3s_dr_testbed.realnode import node as realnode  # noqa: PLC0415

    try:
        plain = start_cluster(ClusterSpec(f"rn{os.getpid()}p", nodes=0, owned_by_process=True))
    except ToolMissing as exc:
        unavailable(f"the local cluster cannot run here: {exc}")
    holders = [socket.socket(), socket.socket()]
    try:
        for holder in holders:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        # both ports held (the kubelet binds its healthz port first; a neighbour port may belong to anyone):
        # the race this guards against, another process taking a port after we chose it
        taken = [holder.getsockname()[1] for holder in holders]
        monkeypatch.setattr(realnode, "choose_ports", lambda count: taken[:count])
        node_dir = Path(plain.dir) / "node"
        with pytest.raises(EnvironmentProblem, match=rf"127\.0\.0\.1:({taken[0]}|{taken[1]}) is taken"):
            realnode.start_real_node(Path(plain.dir), plain.kubeconfig, locate_binaries(), time.monotonic() + 60)
        assert pids_naming(str(node_dir)) == []
        assert current_mounts_under(node_dir) == []
        assert not NodeLayout(node_dir).state_file.exists()
    finally:
        for holder in holders:
            holder.close()
        plain.stop()


STARTER = """
import sys, time
from k3s_dr_testbed.clusters import ClusterSpec, start_cluster
handle = start_cluster(ClusterSpec(sys.argv[1], nodes=0, real_node=True, owned_by_process=True))
print(handle.dir, flush=True)
time.sleep(600)
"""


def test_a_killed_test_run_leaves_a_node_that_the_next_run_sweeps(pytestconfig: pytest.Config) -> None:
    skip_unless_real_node(pytestconfig)
    from k3s_dr_testbed.clusters.cleanup import sweep_stale  # noqa: PLC0415
    from k3s_dr_testbed.clusters.files import locked  # noqa: PLC0415
    from k3s_dr_testbed.clusters.spec import clusters_root, home_dir  # noqa: PLC0415

    name = f"rn{os.getpid()}k"
    starter = subprocess.Popen([sys.executable, "-c", STARTER, name], stdout=subprocess.PIPE, text=True)
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline().strip()
        assert line, "the starter process printed no cluster directory"
        node_dir = Path(line) / "node"
        bridge = json.loads(NodeLayout(node_dir).state_file.read_text())["bridge"]
    finally:
        starter.kill()  # like a SIGKILLed pytest: no teardown runs
        starter.wait()
    # the sweep every cluster start runs, under the same lock (another test run may sweep it first)
    with locked(home_dir() / ".clusters.lock"):
        sweep_stale(clusters_root())
    assert node_traces(node_dir, bridge) == {"processes": [], "mounts": [], "bridge": False, "log_links": []}
    assert not node_dir.exists()
