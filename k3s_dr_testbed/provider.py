"""The test bed's side of dr_lib's cluster door (:mod:`dr_lib.cluster.provider`).

dr_lib loads this module by name when a drill (or a test) asks for a ``local`` or ``k3d``
cluster; it answers with handles that satisfy :class:`dr_lib.cluster.provider.ClusterHandle`.
"""

from __future__ import annotations

from dr_lib.cluster.provider import TESTBED_PROVIDERS, ClusterHandle, ClusterSpec, Progress, RealNodeFacts
from dr_lib.errors import UsageError
from k3s_dr_testbed.clusters.k3d import start_k3d
from k3s_dr_testbed.clusters.local import start_local
from k3s_dr_testbed.clusters.versions import resolve
from k3s_dr_testbed.realnode.config import NODE_NAME
from k3s_dr_testbed.realnode.images import APP_REF


def _unknown(provider: str) -> UsageError:
    accepted = ", ".join(TESTBED_PROVIDERS)
    return UsageError(f"cluster provider {provider!r} is not the test bed's: accepted is {accepted}")


def start(provider: str, spec: ClusterSpec) -> ClusterHandle:
    """A ready cluster of ``provider`` (``local``: binaries on this machine; ``k3d``: k3s in Docker)."""
    if provider == "local":
        return start_local(spec)
    if provider == "k3d":
        return start_k3d(spec)
    raise _unknown(provider)


def prepare(provider: str, progress: Progress, kubernetes_version: str | None = None) -> None:
    """The local provider runs binaries built from source: build them once on a fresh machine.
    Either provider refuses an unsupported ``kubernetes_version`` here, before any cluster starts."""
    if provider not in TESTBED_PROVIDERS:
        raise _unknown(provider)
    release = resolve(kubernetes_version)
    if provider != "local":
        return
    from k3s_dr_testbed.clusters.build import build_binaries  # noqa: PLC0415 - only the local provider builds

    result = build_binaries(progress, release.kubernetes)
    if result.action != "current":
        progress(f"cluster binaries {result.action} in {result.seconds:.0f} s ({result.bin_dir})")


def kubernetes_release(request: str) -> str:
    """The supported release ``request`` names, as its exact tag (UsageError listing the supported ones)."""
    return resolve(request).kubernetes


def real_node() -> RealNodeFacts:
    """Pods run on the real node when they select its name and use the image imported into it."""
    return RealNodeFacts(node_name=NODE_NAME, image=APP_REF)
