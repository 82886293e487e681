"""One real node beside the kwok ones: our own containerd, a CNI bridge and the kubelet, so pods
run real processes and exec, probes and hostPath volumes work.

Everything the node makes lives under ``<cluster dir>/node`` (containerd's root and state, pod
network namespaces, the kubelet's root, pod logs) plus one bridge ``k3sdr<i>``; ``state.json``
there records pids and the bridge, so :func:`cleanup_real_node` can remove it all again, also
after the process that started it was killed.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.errors import DeadlineExceeded, DRError, EnvironmentProblem
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters.files import write_atomic
from k3s_dr_testbed.clusters.ports import choose_ports
from k3s_dr_testbed.realnode.api import forget_node, wait_node_ready
from k3s_dr_testbed.realnode.config import (
    NODE_NAME,
    NodeLayout,
    NodeNetwork,
    cni_conflist,
    containerd_config,
    kubelet_config,
    network_for_index,
)
from k3s_dr_testbed.realnode.host import (
    claim_network,
    is_ours,
    log_tail,
    require_tools,
    start_process,
    tool,
    wait_for_socket,
)
from k3s_dr_testbed.realnode.images import APP_REF, PAUSE_REF, prepare_image_tars
from k3s_dr_testbed.realnode.stop import StopReport, cleanup_real_node
from k3s_dr_testbed.realnode.template import prepare_containerd_root

_POLL = 0.25
_STOP_SECONDS = 30.0

__all__ = ["APP_REF", "NODE_NAME", "RealNode", "StopReport", "cleanup_real_node", "start_real_node"]


@dataclass
class RealNode:
    """A running real node. ``timings`` holds the seconds each start phase took."""

    dir: Path
    kubeconfig: Path
    network: NodeNetwork
    containerd_pid: int
    kubelet_pid: int
    kubelet_port: int
    healthz_port: int
    image: str = APP_REF  # pods: image this, imagePullPolicy Never, nodeSelector kubernetes.io/hostname=localhost
    node_name: str = NODE_NAME
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    def stop(self, deadline: float | None = None) -> StopReport:
        """Delete the node's pods, stop kubelet and containerd, remove mounts and the bridge."""
        limit = deadline if deadline is not None else time.monotonic() + _STOP_SECONDS
        return cleanup_real_node(self.dir, limit, kubeconfig=self.kubeconfig)


def _kubelet_argv(bin_dir: Path) -> list[str]:
    """The kubelet is one face of the multi-call binary: by its own name or as its first argument."""
    if (bin_dir / "kubelet").is_file():
        return [str(bin_dir / "kubelet")]
    if (bin_dir / "kube-control-plane").is_file():
        return [str(bin_dir / "kube-control-plane"), "kubelet"]
    raise EnvironmentProblem(
        f"no kubelet in {bin_dir}: neither {bin_dir / 'kubelet'} nor {bin_dir / 'kube-control-plane'} exists",
        hint="build the control-plane binaries first (see the README)",
    )


def _save_state(layout: NodeLayout, state: dict[str, Any]) -> None:
    write_atomic(layout.state_file, json.dumps(state, indent=2) + "\n")


def _containerd_default_config(deadline: float) -> str:
    try:
        done = subprocess.run(
            [tool("containerd"), "config", "default"],
            capture_output=True,
            text=True,
            timeout=max(0.1, deadline - time.monotonic()),
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentProblem(f"`containerd config default` failed: {exc}") from exc
    return done.stdout


def _write_configs(layout: NodeLayout, network: NodeNetwork, ports: tuple[int, int], default_config: str) -> None:
    for directory in (
        layout.cni_conf_dir,
        layout.cni_ipam_dir,
        layout.kubelet_root,
        layout.kubelet_certs,
        layout.pod_logs,
        layout.volume_plugins,
        layout.runc_root,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    write_atomic(layout.containerd_config, containerd_config(default_config, layout, PAUSE_REF))
    write_atomic(layout.cni_conf_dir / "10-bridge.conflist", cni_conflist(network, layout))
    write_atomic(layout.kubelet_config, kubelet_config(layout, port=ports[0], healthz_port=ports[1]))


_IN_USE = re.compile(r"listen tcp [^ ]*:(\d+): bind: address already in use")


def _kubelet_died(layout: NodeLayout) -> EnvironmentProblem:
    text = log_tail(layout.log("kubelet"), 8)
    taken = _IN_USE.search(text)
    if taken:
        return EnvironmentProblem(
            f"the kubelet could not listen: port 127.0.0.1:{taken.group(1)} is taken",
            hint="another process took the port after we chose it; start the node again",
        )
    return EnvironmentProblem(f"the kubelet exited at start; its log {layout.log('kubelet')} says: {text}")


def _start_kubelet(kubelet: list[str], layout: NodeLayout, kubeconfig: Path) -> int:
    flags = {
        "--config": layout.kubelet_config,
        "--kubeconfig": kubeconfig,
        "--hostname-override": NODE_NAME,
        "--root-dir": layout.kubelet_root,
        "--cert-dir": layout.kubelet_certs,
    }
    return start_process([*kubelet, *(f"{flag}={value}" for flag, value in flags.items())], layout.log("kubelet"))


_UNIX_PATH_MAX = 107  # sun_path; containerd also listens on <socket>.ttrpc


def _check_socket_path(layout: NodeLayout) -> None:
    longest = f"{layout.containerd_socket}.ttrpc"
    if len(longest) > _UNIX_PATH_MAX:
        raise EnvironmentProblem(
            f"the cluster directory {layout.dir.parent} is too deep for containerd's socket"
            f" ({len(longest)} characters, at most {_UNIX_PATH_MAX})",
            hint="use a shorter base directory (K3S_DR_HOME)",
        )


def _check_kubelet(layout: NodeLayout, pid: int) -> None:
    if not is_ours(pid, str(layout.dir)):
        raise _kubelet_died(layout)


def start_real_node(cluster_dir: Path, kubeconfig: Path, bin_dir: Path, deadline: float) -> RealNode:
    """Start containerd, the CNI bridge and the kubelet for the API server in ``kubeconfig``;
    return once Node ``localhost`` is Ready. ``deadline`` is a ``time.monotonic()`` value.

    On any failure everything started so far is removed before the error propagates.
    """
    layout = NodeLayout(cluster_dir / "node")
    require_tools()
    _check_socket_path(layout)
    kubelet = _kubelet_argv(bin_dir)
    if layout.state_file.exists():
        # a node from an earlier run that was never stopped (a killed test run): remove it first
        cleanup_real_node(layout.dir, deadline)
    layout.dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    mark = time.monotonic()
    tars = prepare_image_tars(deadline)
    timings["images"] = time.monotonic() - mark
    state: dict[str, Any] = {"kubeconfig": str(kubeconfig)}
    try:
        mark = time.monotonic()
        network = claim_network(deadline)
        state["bridge"] = network.bridge
        state["network_index"] = network.index
        _save_state(layout, state)
        ports = choose_ports(2)
        default_config = _containerd_default_config(deadline)
        _write_configs(layout, network, (ports[0], ports[1]), default_config)
        timings["images_root"] = prepare_containerd_root(layout, tars, default_config, deadline)
        mark = time.monotonic()
        containerd_pid = start_process(
            [tool("containerd"), "--config", str(layout.containerd_config)], layout.log("containerd")
        )
        state["containerd_pid"] = containerd_pid
        _save_state(layout, state)
        wait_for_socket(layout.containerd_socket, containerd_pid, str(layout.dir), layout.log("containerd"), deadline)
        timings["containerd"] = time.monotonic() - mark
        with Kube.from_kubeconfig(kubeconfig) as kube:
            forget_node(kube)  # a Node left by an earlier, killed kubelet would look Ready
            mark = time.monotonic()
            kubelet_pid = _start_kubelet(kubelet, layout, kubeconfig)
            state["kubelet_pid"] = kubelet_pid
            _save_state(layout, state)
            try:
                wait_node_ready(kube, ports[0], lambda: _check_kubelet(layout, kubelet_pid), deadline)
            except DeadlineExceeded as exc:
                log = layout.log("kubelet")
                raise DeadlineExceeded(f"{exc.message}; kubelet log {log}: {log_tail(log, 3)}") from exc
        timings["node_ready"] = time.monotonic() - mark
        state["timings"] = {phase: round(seconds, 3) for phase, seconds in timings.items()}
        _save_state(layout, state)
    except (DRError, OSError, KeyboardInterrupt) as exc:
        _undo(layout, exc)
        raise
    return RealNode(
        layout.dir,
        kubeconfig,
        network_for_index(network.index),
        containerd_pid,
        kubelet_pid,
        ports[0],
        ports[1],
        timings=timings,
    )


def _undo(layout: NodeLayout, cause: BaseException) -> None:
    try:
        cleanup_real_node(layout.dir, time.monotonic() + _STOP_SECONDS)
    except (DRError, OSError) as exc:
        # the start's own error is the one to report; the leftover is named beside it
        if isinstance(cause, DRError):
            cause.message = f"{cause.message}; and removing the half-started real node failed: {exc}"
            cause.args = (cause.message,)
        else:
            cause.add_note(f"and removing the half-started real node failed: {exc}")
