"""One entry point over the three providers: ``local``, ``k3d``, ``kubeconfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dr_lib.cluster.k3d import start_k3d
from dr_lib.cluster.kubeconfig import open_existing
from dr_lib.cluster.local import start_local
from dr_lib.cluster.spec import ClusterSpec
from dr_lib.errors import UsageError

PROVIDERS = ("local", "k3d", "kubeconfig")


def start_with_provider(provider: str, spec: ClusterSpec, *, kubeconfig_path: Path | str | None = None) -> Any:
    """A ready cluster from ``provider``; the ``kubeconfig`` one opens the existing cluster instead."""
    if provider == "local":
        return start_local(spec)
    if provider == "k3d":
        return start_k3d(spec)
    if provider == "kubeconfig":
        return open_existing(kubeconfig_path)
    raise UsageError(f"cluster provider {provider!r} is unknown: accepted is {', '.join(PROVIDERS)}")
