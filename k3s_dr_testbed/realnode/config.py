"""The real node's files, as pure functions of its layout: containerd's config, the CNI
network and the kubelet's config. No I/O here: start_real_node writes what these return."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.errors import EnvironmentProblem

NODE_NAME = "localhost"  # the kubelet refuses a loopback node IP; the API server reaches it by Hostname
CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
MAX_NETWORKS = 64  # real nodes side by side on one machine: bridge k3sdr<i>, subnet 10.88.<i>.0/24


@dataclass(frozen=True)
class NodeLayout:
    """Every path a real node uses lives under one directory, so stop can find and remove it all."""

    dir: Path

    @property
    def containerd_root(self) -> Path:
        return self.dir / "containerd-root"

    @property
    def containerd_state(self) -> Path:
        return self.dir / "containerd-state"

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.dir / "containerd.toml"

    @property
    def runc_root(self) -> Path:
        return self.dir / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.dir / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.dir / "cni" / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.dir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.dir / "kubelet.json"

    @property
    def kubelet_certs(self) -> Path:
        return self.dir / "kubelet-pki"

    @property
    def pod_logs(self) -> Path:
        return self.dir / "pod-logs"

    @property
    def volume_plugins(self) -> Path:
        return self.dir / "volume-plugins"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    def log(self, component: str) -> Path:
        return self.dir / f"{component}.log"


@dataclass(frozen=True)
class NodeNetwork:
    index: int
    bridge: str
    subnet: str
    name: str


def network_for_index(index: int) -> NodeNetwork:
    if not 0 <= index < MAX_NETWORKS:
        raise ValueError(f"network index {index} outside 0..{MAX_NETWORKS - 1}")
    return NodeNetwork(index, f"k3sdr{index}", f"10.88.{index}.0/24", f"k3sdr-{index}")


_TOP = ""  # the keys before any [section] header
_OPT = '[plugins."io.containerd.internal.v1.opt"]'


@dataclass(frozen=True)
class ConfigEdit:
    """One edit to `containerd config default`: the first ``key`` at or after ``section``."""

    section: str
    key: str
    value: str
    why: str


def _containerd_edits(layout: NodeLayout, pause_ref: str) -> list[ConfigEdit]:
    def path(value: Path) -> str:
        return json.dumps(str(value))

    return [
        ConfigEdit(_TOP, "root", path(layout.containerd_root), "own content store and snapshots, not the machine's"),
        ConfigEdit(_TOP, "state", path(layout.containerd_state), "own runtime state: shims, fifos, mounts"),
        ConfigEdit("[grpc]", "address", path(layout.containerd_socket), "own socket ([debug] has an address too)"),
        ConfigEdit(_TOP, "sandbox_image", json.dumps(pause_ref), "no registry: the locally built pause image"),
        ConfigEdit(
            _TOP, "restrict_oom_score_adj", "true", "no CAP_SYS_RESOURCE: runc fails 'can't get final child's PID'"
        ),
        ConfigEdit(
            _TOP, "netns_mounts_under_state_dir", "true", "pod network namespaces under our dir, removed with it"
        ),
        ConfigEdit(_TOP, "bin_dir", path(CNI_BIN_DIR), "Debian installs the CNI plugins there"),
        ConfigEdit(_TOP, "conf_dir", path(layout.cni_conf_dir), "own CNI network: our bridge and subnet"),
        ConfigEdit(_TOP, "Root", path(layout.runc_root), "runc's state apart from other containerds' k8s.io namespace"),
        ConfigEdit(_OPT, "path", path(layout.dir / "opt"), "the opt plugin would create /opt/containerd"),
    ]


def containerd_config(default_text: str, layout: NodeLayout, pause_ref: str) -> str:
    """Edit ``containerd config default`` output, each key at its first place in its section."""
    text = default_text
    for edit in _containerd_edits(layout, pause_ref):
        pattern = re.compile(rf"^(\s*){re.escape(edit.key)} = .*$", re.MULTILINE)
        at = text.find(edit.section) if edit.section else 0
        if at < 0:
            raise EnvironmentProblem(f"`containerd config default` has no {edit.section} section; unknown containerd")
        tail, count = pattern.subn(rf"\g<1>{edit.key} = {_escape(edit.value)}", text[at:], count=1)
        if count != 1:
            raise EnvironmentProblem(
                f"`containerd config default` has no {edit.key!r} setting; this containerd is unknown"
            )
        text = text[:at] + tail
    _check_containerd_config(text, layout, pause_ref)
    return text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\")


def _check_containerd_config(text: str, layout: NodeLayout, pause_ref: str) -> None:
    parsed = tomllib.loads(text)
    cri: dict[str, Any] = parsed["plugins"]["io.containerd.grpc.v1.cri"]
    seen = {
        "grpc address": parsed["grpc"]["address"] == str(layout.containerd_socket),
        "sandbox_image": cri["sandbox_image"] == pause_ref,
        "restrict_oom_score_adj": cri["restrict_oom_score_adj"] is True,
        "cni conf_dir": cri["cni"]["conf_dir"] == str(layout.cni_conf_dir),
        "runc Root": cri["containerd"]["runtimes"]["runc"]["options"]["Root"] == str(layout.runc_root),
        "opt path": parsed["plugins"].get("io.containerd.internal.v1.opt", {}).get("path") == str(layout.dir / "opt"),
    }
    wrong = [name for name, ok in seen.items() if not ok]
    if wrong:
        raise EnvironmentProblem(f"editing containerd's default config did not set: {', '.join(wrong)}")


def cni_conflist(network: NodeNetwork, layout: NodeLayout) -> str:
    """A bridge network without masquerade or port maps: no iptables rules to leave behind."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": network.name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": network.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": network.subnet}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(layout.cni_ipam_dir),
                    },
                }
            ],
        },
        indent=2,
    )


def kubelet_config(layout: NodeLayout, *, port: int, healthz_port: int) -> str:
    """KubeletConfiguration (JSON is YAML) with the settings that work on these machines."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        # cgroup v1 without systemd as the machine's init: no QoS hierarchy, no allocatable enforcement
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        # Kubernetes >= 1.35 refuses to start on cgroup v1 unless told (KEP-5573); these machines are cgroup v1
        "failCgroupV1": False,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        # a shared, busy test machine must not make the node evict our pods
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        # keep everything the kubelet writes under the node's directory, and no iptables chains
        "podLogsDir": str(layout.pod_logs),
        "volumePluginDir": str(layout.volume_plugins),
        "makeIPTablesUtilChains": False,
        "nodeStatusUpdateFrequency": "4s",
        "syncFrequency": "10s",
    }
    return json.dumps(config, indent=2)
