"""The ``kubeconfig`` provider: an existing cluster (an operator's staging cluster).

It starts nothing and never deletes what it did not create: ``stop()`` deletes only the
namespaces made through this handle, and the cluster itself is left as it was. Nor can it put
images into someone else's nodes: a drill's pods there use images named in ``drill.images``,
which the cluster pulls (:func:`named_images`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dr_lib.cluster.namespaces import NamespaceOps
from dr_lib.cluster.provider import PULLED, ImageSet
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


# Roles whose image falls back to another role's when not named (one image can serve both).
FALLBACK_ROLE: dict[str, str] = {"db_dump": "app"}


def named_images(roles: Sequence[str], named: Mapping[str, str], users: Mapping[str, Sequence[str]]) -> ImageSet:
    """The images of ``drill.images`` for every role, or a :class:`UsageError` naming the pods that would
    have none and what is accepted: checked before the drill starts anything. Pure."""
    refs = {role: named.get(role) or named.get(FALLBACK_ROLE.get(role, ""), "") for role in roles}
    missing = [role for role in roles if not refs[role]]
    if missing:
        who = "; ".join(f"{role}: {', '.join(users.get(role, ())) or 'no pod'}" for role in missing)
        keys = ", ".join(f"drill.images.{role}" for role in missing)
        raise UsageError(
            f"--cluster kubeconfig: k3s-dr cannot load images into an existing cluster and config names none for "
            f"the drill's pods ({who}); accepted is {keys} naming an image the cluster can pull, with python3 "
            f"(K3S_DR_DRILL_IMAGES_APP), or --cluster local|k3d, which load the locally built image")
    return ImageSet(refs, PULLED, "config drill.images (pulled by the cluster's nodes)")
