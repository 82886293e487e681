"""The real node's generated files and pure decisions (no processes started here)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.realnode.api import node_ready_for
from k3s_dr_testbed.realnode.config import (
    MAX_NETWORKS,
    NodeLayout,
    cni_conflist,
    containerd_config,
    kubelet_config,
    network_for_index,
)
from k3s_dr_testbed.realnode.host import REQUIREMENTS, missing_requirements
from k3s_dr_testbed.realnode.node import _kubelet_argv, _kubelet_died

# An excerpt of `containerd config default` (containerd 1.6, Debian bookworm), recorded:
# the keys we edit, in their sections, with [debug]'s address before [grpc]'s.
DEFAULT_CONFIG = """\
root = "/var/lib/containerd"
state = "/run/containerd"
version = 2

[cgroup]
  path = ""

[debug]
  address = ""

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    netns_mounts_under_state_dir = false
    restrict_oom_score_adj = false
    sandbox_image = "registry.k8s.io/pause:3.6"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".containerd]

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            Root = ""
            SystemdCgroup = false

  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"
"""

LAYOUT = NodeLayout(Path("/srv/clusters/a/node"))


def test_containerd_config_points_everything_into_the_node_dir() -> None:
    parsed = tomllib.loads(containerd_config(DEFAULT_CONFIG, LAYOUT, "docker.io/local/pause:3.10"))
    cri = parsed["plugins"]["io.containerd.grpc.v1.cri"]
    assert parsed["root"] == "/srv/clusters/a/node/containerd-root"
    assert parsed["state"] == "/srv/clusters/a/node/containerd-state"
    assert parsed["debug"]["address"] == ""  # only [grpc]'s address is ours
    assert parsed["grpc"]["address"] == "/srv/clusters/a/node/containerd.sock"
    assert cri["sandbox_image"] == "docker.io/local/pause:3.10"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/srv/clusters/a/node/cni/net.d"}
    assert cri["containerd"]["runtimes"]["runc"]["options"]["Root"] == "/srv/clusters/a/node/runc"
    assert parsed["plugins"]["io.containerd.internal.v1.opt"]["path"] == "/srv/clusters/a/node/opt"
    assert parsed["cgroup"]["path"] == ""  # the first `path` in the file is not the opt plugin's


def test_containerd_config_refuses_an_unknown_default() -> None:
    with pytest.raises(EnvironmentProblem, match="sandbox_image"):
        containerd_config(DEFAULT_CONFIG.replace("sandbox_image", "pod_image"), LAYOUT, "x")


def test_networks_are_distinct_per_index_and_bounded() -> None:
    nets = [network_for_index(i) for i in range(MAX_NETWORKS)]
    assert len({n.bridge for n in nets}) == len({n.subnet for n in nets}) == MAX_NETWORKS
    assert nets[0].bridge == "k3sdr0" and nets[0].subnet == "10.88.0.0/24"
    assert all(len(n.bridge) <= 15 for n in nets)  # Linux interface name limit
    with pytest.raises(ValueError):
        network_for_index(MAX_NETWORKS)


def test_cni_conflist_uses_our_bridge_subnet_and_ipam_dir_without_iptables_plugins() -> None:
    conf = json.loads(cni_conflist(network_for_index(3), LAYOUT))
    assert [p["type"] for p in conf["plugins"]] == ["bridge"]  # no portmap: no iptables rules left behind
    bridge = conf["plugins"][0]
    assert bridge["bridge"] == "k3sdr3" and bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.88.3.0/24"}]]
    assert bridge["ipam"]["dataDir"] == "/srv/clusters/a/node/cni/ipam"


def test_kubelet_config_keeps_state_in_the_node_dir_on_loopback() -> None:
    conf = json.loads(kubelet_config(LAYOUT, port=21000, healthz_port=21001))
    assert conf["address"] == conf["healthzBindAddress"] == "127.0.0.1"
    assert (conf["port"], conf["healthzPort"], conf["readOnlyPort"]) == (21000, 21001, 0)
    assert conf["containerRuntimeEndpoint"] == "unix:///srv/clusters/a/node/containerd.sock"
    assert conf["cgroupDriver"] == "cgroupfs" and conf["cgroupsPerQOS"] is False
    assert conf["podLogsDir"].startswith("/srv/clusters/a/node/")
    assert conf["volumePluginDir"].startswith("/srv/clusters/a/node/")
    assert conf["makeIPTablesUtilChains"] is False
    assert conf["failCgroupV1"] is False  # every supported kubelet (>= 1.35) refuses cgroup v1 otherwise


def _node(port: int, ready: str = "True", unschedulable: bool = False) -> dict[str, object]:
    return {
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        },
    }


def test_node_ready_only_when_our_kubelet_reports_it() -> None:
    assert node_ready_for(_node(21000), 21000)
    assert not node_ready_for(_node(21000, ready="False"), 21000)
    assert not node_ready_for(_node(10250), 21000)  # a Node left by an earlier kubelet
    assert not node_ready_for(_node(21000, unschedulable=True), 21000)
    assert not node_ready_for({}, 21000)


def test_missing_requirements_name_the_debian_packages() -> None:
    # Fake machine on which nothing is on PATH (absolute CNI paths are checked on disk).
    missing = missing_requirements(lambda _name: None)
    packages = {req.package for req in missing}
    assert {"containerd", "runc", "docker.io", "debootstrap", "gcc", "iproute2"} <= packages
    assert all(req.why for req in REQUIREMENTS)
    assert missing_requirements(lambda name: f"/usr/bin/{name}") == [
        req for req in REQUIREMENTS if req.tool.startswith("/") and not Path(req.tool).is_file()
    ]


def test_kubelet_found_by_name_or_as_the_multi_call_binary(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="no kubelet"):
        _kubelet_argv(tmp_path)
    (tmp_path / "kube-control-plane").write_text("")
    assert _kubelet_argv(tmp_path) == [str(tmp_path / "kube-control-plane"), "kubelet"]
    (tmp_path / "kubelet").write_text("")
    assert _kubelet_argv(tmp_path) == [str(tmp_path / "kubelet")]


def test_a_kubelet_that_died_on_a_taken_port_says_which(tmp_path: Path) -> None:
    layout = NodeLayout(tmp_path)
    layout.log("kubelet").write_text(
        'E1128 run.go:72] "command failed" err="failed to listen: listen tcp 127.0.0.1:21000: '
        'bind: address already in use"\n'
    )
    error = _kubelet_died(layout)
    assert "127.0.0.1:21000 is taken" in str(error)
    layout.log("kubelet").write_text("F1128 something else broke\n")
    assert "something else broke" in str(_kubelet_died(layout))
