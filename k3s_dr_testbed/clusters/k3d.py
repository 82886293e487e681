"""The ``k3d`` provider: a real k3s in Docker, for machines that can pull images (CI).

Command lines are built by pure functions (unit-tested); the rest runs them with timeouts.
It cannot run where no image registry is reachable: there it fails with a clear message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dr_lib.cluster.namespaces import NamespaceOps
from dr_lib.errors import EnvironmentProblem
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import versions
from k3s_dr_testbed.clusters.readiness import wait_default_service_account
from k3s_dr_testbed.clusters.spec import ClusterSpec, ToolMissing, validate_name

K3S_IMAGE = versions.newest().k3s_image
# The k3s image to run when no Kubernetes version is asked for (CI's restore-drill workflow may set it).
K3S_IMAGE_ENV = "K3S_DR_K3S_IMAGE"


def k3s_image(kubernetes_version: str | None = None) -> str:
    """The asked-for release's image from the versions table; else ``$K3S_DR_K3S_IMAGE``; else the newest."""
    if kubernetes_version is not None:
        return versions.resolve(kubernetes_version).k3s_image
    return os.environ.get(K3S_IMAGE_ENV) or K3S_IMAGE


CREATE_TIMEOUT = "120s"
_COMMAND_SECONDS = 300.0


def create_argv(name: str, *, image: str = K3S_IMAGE, nodes: int = 1, api_port: int | None = None) -> list[str]:
    """``k3d cluster create``: one server plus ``nodes - 1`` agents; our kubeconfig, not the user's."""
    argv = ["k3d", "cluster", "create", name, "--image", image, "--wait", "--timeout", CREATE_TIMEOUT, "--no-lb",
            "--agents", str(max(0, nodes - 1)),
            "--kubeconfig-update-default=false", "--kubeconfig-switch-context=false"]
    if api_port is not None:
        argv += ["--api-port", f"127.0.0.1:{api_port}"]
    return argv


def kubeconfig_argv(name: str, output: Path) -> list[str]:
    return ["k3d", "kubeconfig", "write", name, "--output", str(output)]


def delete_argv(name: str) -> list[str]:
    return ["k3d", "cluster", "delete", name]


def image_import_argv(name: str, images: list[str]) -> list[str]:
    """``k3d image import``: images from the local Docker engine into every node of the cluster.

    ``--mode direct`` streams them straight into each node's containerd: no k3d-tools helper
    container (an image k3d would otherwise have to pull) and no tarball left on a shared volume.
    """
    return ["k3d", "image", "import", *images, "--cluster", name, "--mode", "direct"]


def require_k3d() -> None:
    if shutil.which("k3d") is None:
        raise ToolMissing("the 'k3d' command is not on PATH (needed by --cluster=k3d)",
                                 hint="install k3d (https://k3d.io) or use --cluster=local")
    if shutil.which("docker") is None:
        raise ToolMissing("the 'docker' command is not on PATH (k3d runs k3s in Docker)")
    try:
        result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem("the Docker engine did not answer `docker info` within 20 s") from None
    if result.returncode != 0:
        raise ToolMissing("no Docker engine is reachable (`docker info` failed)",
                                 hint="start dockerd, or use --cluster=local")


def _run(argv: list[str], what: str) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=_COMMAND_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{what} did not finish within {_COMMAND_SECONDS:.0f} s") from None
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise EnvironmentProblem(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


@dataclass
class K3dCluster(NamespaceOps):
    name: str
    dir: Path
    server: str = ""
    kubernetes_version: str = ""
    seconds: float = 0.0
    created_namespaces: list[str] = field(default_factory=list)
    _stopped: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig.yaml"

    @property
    def db_path(self) -> Path | None:
        return None  # the datastore lives inside the k3s container

    def stop(self) -> None:
        if not self._stopped:
            _run(delete_argv(self.name), f"k3d cluster delete {self.name}")
            shutil.rmtree(self.dir, ignore_errors=True)
            self._stopped = True


def import_images(cluster: K3dCluster, images: list[str]) -> float:
    """Load ``images`` (Docker tags) into ``cluster``'s nodes; returns seconds."""
    started = time.monotonic()
    _run(image_import_argv(cluster.name, images), f"k3d image import into {cluster.name}")
    return time.monotonic() - started


def start_k3d(spec: ClusterSpec) -> K3dCluster:
    validate_name(spec.name)
    image = k3s_image(spec.kubernetes_version)
    require_k3d()
    started = time.monotonic()
    deadline = started + spec.timeout_seconds + 120
    directory = spec.base_dir or Path(tempfile.mkdtemp(prefix=f"k3s-dr-k3d-{spec.name}-"))
    directory.mkdir(parents=True, exist_ok=True)
    _run(create_argv(spec.name, image=image, nodes=max(1, spec.nodes), api_port=spec.api_port),
         f"k3d cluster create {spec.name}")
    cluster = K3dCluster(spec.name, directory)
    try:
        _run(kubeconfig_argv(spec.name, cluster.kubeconfig), f"k3d kubeconfig write {spec.name}")
        with Kube.from_kubeconfig(cluster.kubeconfig) as kube:
            wait_default_service_account(kube, deadline, lambda: None)
            cluster.server = kube.server
            cluster.kubernetes_version = kube.version()
    except BaseException:
        cluster.stop()
        raise
    cluster.seconds = round(time.monotonic() - started, 2)
    return cluster
