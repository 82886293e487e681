"""The ``kubeconfig`` provider: an existing cluster (an operator's staging cluster).

It starts nothing and never deletes what it did not create: ``stop()`` deletes only the
namespaces made through this handle, and the cluster itself is left as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from dr_lib.cluster.namespaces import NamespaceOps
from dr_lib.errors import UsageError
from dr_lib.kube.client import Kube


@dataclass
class ExistingCluster(NamespaceOps):
    path: Path
    name: str = "existing"
    server: str = ""
    kubernetes_version: str = ""
    seconds: float = 0.0
    created_namespaces: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.path

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def db_path(self) -> Path | None:
        return None  # not ours to touch

    def stop(self) -> None:
        """Delete the namespaces this handle created; nothing else."""
        for namespace in list(self.created_namespaces):
            self.delete_namespace(namespace)


def open_existing(kubeconfig: Path | str | None) -> ExistingCluster:
    """Connect to the cluster of ``kubeconfig`` (raises if it does not answer or refuses us)."""
    if kubeconfig is None:
        raise UsageError("the kubeconfig provider needs a kubeconfig path", hint="pass --kubeconfig-path PATH")
    path = Path(kubeconfig).expanduser()
    started = time.monotonic()
    with Kube.from_kubeconfig(path) as kube:
        version = kube.version()
        server = kube.server
    return ExistingCluster(path, server=server, kubernetes_version=version,
                           seconds=round(time.monotonic() - started, 2))
