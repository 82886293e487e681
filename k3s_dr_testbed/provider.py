"""The test bed's side of dr_lib's cluster door (:mod:`dr_lib.cluster.provider`).

dr_lib loads this module by name when a drill (or a test) asks for a ``local`` or ``k3d``
cluster; it answers with handles that satisfy :class:`dr_lib.cluster.provider.ClusterHandle`,
and with the images a drill's pods run: the Debian image built on this machine, loaded into each
cluster the way it takes images (no registry is reachable here).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dr_lib.cluster.provider import (
    LOADED,
    TESTBED_PROVIDERS,
    ClusterHandle,
    ClusterSpec,
    ImageLoad,
    ImageSet,
    Progress,
    RealNodeFacts,
)
from dr_lib.errors import UsageError
from k3s_dr_testbed.clusters.k3d import K3dCluster, start_k3d
from k3s_dr_testbed.clusters.k3d import import_images as k3d_import
from k3s_dr_testbed.clusters.local import LocalCluster, start_local
from k3s_dr_testbed.clusters.versions import resolve
from k3s_dr_testbed.docker import DEBIAN_TAG
from k3s_dr_testbed.realnode.config import NODE_NAME, NodeLayout
from k3s_dr_testbed.realnode.images import (
    APP_REF,
    APP_TAG,
    ensure_app_image,
    images_in_containerd,
    import_images,
    prepare_image_tars,
)

# The images the test bed can load: reference as pods name it → its tag in the Docker engine.
LOCAL_IMAGES: dict[str, str] = {APP_REF: APP_TAG}


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
    """Pods run on the real node when they select its name (and use the images :func:`drill_images` names)."""
    return RealNodeFacts(node_name=NODE_NAME)


def drill_images(provider: str, roles: Sequence[str]) -> ImageSet:
    """Every role runs the Debian image built here (python3 is in it): loaded, never pulled."""
    if provider not in TESTBED_PROVIDERS:
        raise _unknown(provider)
    return ImageSet({role: APP_REF for role in roles}, LOADED,
                    f"built on this machine: {DEBIAN_TAG} (debootstrap, docker import), tagged {APP_TAG}")


def _docker_tags(images: ImageSet) -> list[str]:
    refs = sorted(set(images.refs.values()))
    foreign = [ref for ref in refs if ref not in LOCAL_IMAGES]
    if foreign:
        raise UsageError(f"the test bed cannot load {', '.join(foreign)}: accepted are the images it builds "
                         f"({', '.join(LOCAL_IMAGES)})")
    return [LOCAL_IMAGES[ref] for ref in refs]


def _into_real_node(cluster: LocalCluster, deadline: float) -> str:
    """The node's containerd root is cloned from a template the images were imported into; import
    again only if one is missing (a template built before the image existed)."""
    socket = NodeLayout(cluster.dir / "node").containerd_socket
    if set(LOCAL_IMAGES) <= images_in_containerd(socket, deadline):
        return "containerd import on the real node (ctr images import, done when the node started)"
    import_images(socket, prepare_image_tars(deadline), deadline)
    return "containerd import on the real node (ctr images import)"


def load_images(provider: str, handle: ClusterHandle, images: ImageSet, deadline: float) -> ImageLoad:
    """k3d: ``k3d image import`` from Docker; local: the real node's containerd; kwok nodes need none."""
    started = time.monotonic()
    tags = _docker_tags(images)
    refs = tuple(sorted(set(images.refs.values())))
    if provider == "k3d" and isinstance(handle, K3dCluster):
        ensure_app_image(deadline)
        k3d_import(handle, tags)
        return ImageLoad(handle.name, "k3d image import --mode direct", refs, time.monotonic() - started)
    if provider == "local" and isinstance(handle, LocalCluster):
        if not handle.state.real_node:
            return ImageLoad(handle.name, "none: every node is simulated (kwok), no container runs", refs, 0.0)
        how = _into_real_node(handle, deadline)
        return ImageLoad(handle.name, how, refs, time.monotonic() - started)
    raise UsageError(f"cannot load images into a {type(handle).__name__}: it is not a {provider} cluster of the "
                     "test bed")

