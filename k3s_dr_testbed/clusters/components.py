"""The local cluster's directory layout and each component's command line (pure functions).

Every listener is bound to loopback on a port chosen for this cluster: kine (client and
metrics), kube-apiserver, controller-manager, scheduler and kwok all have defaults on all
interfaces (2379, :8080, 6443, 10257, 10259, 10247) that would clash between clusters and
expose them. The layout mirrors k3s's (``server/db/state.db``, ``server/tls``, ``server/cred``)
so datastore backups and restores find the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from k3s_dr_testbed.clusters.binaries import component_argv
from k3s_dr_testbed.clusters.pki import Pki
from k3s_dr_testbed.clusters.ports import LOOPBACK
from k3s_dr_testbed.clusters.versionflags import APISERVER, CONTROLLER_MANAGER, flags_for

SERVICE_CIDR = "10.43.0.0/16"  # k3s's default
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# k3s's own DSN options for kine's SQLite: WAL, shared cache, wait on a busy database.
SQLITE_OPTIONS = "_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
PORT_NAMES = ("kine", "kine_metrics", "apiserver", "controller_manager", "scheduler", "kwok")


@dataclass(frozen=True)
class Layout:
    dir: Path

    @property
    def db_path(self) -> Path:
        return self.dir / "server" / "db" / "state.db"

    @property
    def tls_dir(self) -> Path:
        return self.dir / "server" / "tls"

    @property
    def pki(self) -> Pki:
        return Pki(self.tls_dir)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig.yaml"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def kwok_config(self) -> Path:
        return self.dir / "kwok" / "kwok.yaml"

    @property
    def node_dir(self) -> Path:
        """Where the real node keeps its state (kubelet, containerd)."""
        return self.dir / "node"

    def log(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"


def kine_argv(bin_dir: Path, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bin_dir / "kine"),
        f"--endpoint=sqlite://{layout.db_path}?{SQLITE_OPTIONS}",
        f"--listen-address={LOOPBACK}:{ports['kine']}",
        f"--metrics-bind-address={LOOPBACK}:{ports['kine_metrics']}",
    ]


def apiserver_argv(bin_dir: Path, layout: Layout, ports: dict[str, int], kubernetes_version: str) -> list[str]:
    pki = layout.pki
    return [
        *component_argv(bin_dir, "kube-apiserver"),
        f"--etcd-servers=http://{LOOPBACK}:{ports['kine']}",
        "--storage-backend=etcd3",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports['apiserver']}",
        f"--cert-dir={layout.tls_dir}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={pki.token_file}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # The real node is named "localhost": exec and logs reach its kubelet over loopback.
        "--kubelet-preferred-address-types=Hostname",
        f"--kubelet-client-certificate={pki.kubelet_client_cert}",
        f"--kubelet-client-key={pki.kubelet_client_key}",
        "--profiling=false",
        *flags_for(APISERVER, kubernetes_version),
    ]


def _client_flags(layout: Layout, port: int) -> list[str]:
    kubeconfig = str(layout.kubeconfig)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        "--profiling=false",
    ]


def controller_manager_argv(bin_dir: Path, layout: Layout, ports: dict[str, int], cluster_name: str,
                            kubernetes_version: str) -> list[str]:
    pki = layout.pki
    return [
        *component_argv(bin_dir, "kube-controller-manager"),
        *_client_flags(layout, ports["controller_manager"]),
        *flags_for(CONTROLLER_MANAGER, kubernetes_version),
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        "--use-service-account-credentials=false",
        f"--cluster-name={cluster_name}",
    ]


def scheduler_argv(bin_dir: Path, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [*component_argv(bin_dir, "kube-scheduler"), *_client_flags(layout, ports["scheduler"])]


def kwok_config_text() -> str:
    """An explicit (empty) config, so kwok does not read a user's ~/.kwok/kwok.yaml."""
    return "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n"


def kwok_argv(bin_dir: Path, layout: Layout, ports: dict[str, int]) -> list[str]:
    key, value = KWOK_ANNOTATION
    return [
        str(bin_dir / "kwok"),
        f"--config={layout.kwok_config}",
        f"--kubeconfig={layout.kubeconfig}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={key}={value}",
        # Leases renewed every ~10 s: without them kwok refreshes node status only every ~50 s, the
        # node lifecycle controller marks the nodes NotReady after its grace period, and their pods
        # stay Ready=False for good (seen: every Deployment unready ~50 s after start).
        "--node-lease-duration-seconds=40",
        f"--server-address={LOOPBACK}:{ports['kwok']}",
        # Addresses kwok reports for fake nodes and pods; nothing is ever sent to them.
        "--cidr=10.0.0.1/24",
        "--node-ip=10.0.0.1",
    ]
