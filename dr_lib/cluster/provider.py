"""The one door from dr_lib to the test bed (package ``k3s_dr_testbed``, the ``testbed`` extra).

A drill needs clusters to seed, lose and restore: :func:`start_cluster` gives one for a provider
and a :class:`ClusterSpec`, as a :class:`ClusterHandle`; and images its pods can start, with no
registry: :func:`drill_images` says which (the test bed's locally built ones, or for an existing
cluster those named in ``drill.images``), :func:`load_images` puts them into a cluster the way that
cluster takes images (containerd import on the real node, ``k3d image import``). ``kubeconfig`` (an operator's existing
cluster) is dr_lib's own provider (:mod:`dr_lib.cluster.kubeconfig`); ``local`` (binaries built
from source, kwok nodes, the real node) and ``k3d`` belong to the test bed, as do
``k3s-dr cluster`` and ``k3s-dr lab``. This module loads the test bed by name, on first use, and
is the only one in dr_lib that does: a production host installs dr_lib without the test bed's
dependencies, and whatever asks for it then gets one line naming the extra to install.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast, runtime_checkable

from dr_lib.errors import ExtraMissing, UsageError

TESTBED_PACKAGE = "k3s_dr_testbed"
TESTBED_SIDE = "provider"  # k3s_dr_testbed.provider: start(), prepare(), real_node(), *_images()
DISTRIBUTION = "k3s-dr"
EXTRA = "testbed"
INSTALL = f"pip install '{DISTRIBUTION}[{EXTRA}]'"
EXISTING = "kubeconfig"  # the provider dr_lib has itself
TESTBED_PROVIDERS = ("local", "k3d")
PROVIDERS = (*TESTBED_PROVIDERS, EXISTING)

DEFAULT_NODES = 3
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClusterSpec:
    """A request for a cluster. ``base_dir`` overrides ``$K3S_DR_HOME/clusters/<name>``."""

    name: str
    nodes: int = DEFAULT_NODES
    real_node: bool = False
    base_dir: Path | None = None
    api_port: int | None = None  # None: a free loopback port is chosen
    timeout_seconds: float = 90.0  # for the whole start, every wait included
    # Test clusters die with the process that started them (PR_SET_PDEATHSIG) and are swept
    # when that process is gone; operator clusters from `k3s-dr cluster up` outlive the CLI.
    owned_by_process: bool = False
    # Extra command-line flags, appended after ours (the last of a repeated flag wins): for tests
    # that need a server configured otherwise, e.g. compacting every second.
    apiserver_flags: tuple[str, ...] = ()
    kine_flags: tuple[str, ...] = ()
    # A supported Kubernetes release ("1.37", "1.37.2", "newest", "oldest"); None: the test bed's default
    # (the newest), or the release a stopped local cluster was created with. The test bed checks it.
    kubernetes_version: str | None = None


@runtime_checkable
class ClusterHandle(Protocol):
    """A running cluster, whatever started it."""

    @property
    def name(self) -> str: ...

    @property
    def dir(self) -> Path: ...

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def server(self) -> str: ...

    @property
    def kubernetes_version(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def db_path(self) -> Path | None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class RealNodeFacts:
    """What pods need to run on the test bed's real node: its name (its images: :func:`drill_images`)."""

    node_name: str


# How a pod's image reaches its node: loaded into the node by the provider, or pulled by the cluster.
LOADED = "Never"  # imagePullPolicy: the image is in the node's containerd, nothing may pull it
PULLED = "IfNotPresent"


@dataclass(frozen=True)
class ImageSet:
    """The images a drill's pods use (role → reference, as pods name it) and how the target gets them."""

    refs: Mapping[str, str]
    pull_policy: str  # LOADED or PULLED
    origin: str  # where the images come from, for the report

    def to_json(self) -> dict[str, object]:
        return {"refs": dict(self.refs), "pull_policy": self.pull_policy, "origin": self.origin}


@dataclass(frozen=True)
class ImageLoad:
    """What :func:`load_images` did for one cluster."""

    cluster: str
    how: str  # e.g. "k3d image import", "containerd import on the real node", "none: …" with the reason
    images: tuple[str, ...]
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"cluster": self.cluster, "how": self.how, "images": list(self.images),
                "seconds": round(self.seconds, 3)}


class TestbedSide(Protocol):
    """What ``k3s_dr_testbed.provider`` offers this door."""

    def start(self, provider: str, spec: ClusterSpec) -> ClusterHandle: ...

    def prepare(self, provider: str, progress: Progress, kubernetes_version: str | None = None) -> None: ...

    def real_node(self) -> RealNodeFacts: ...

    def drill_images(self, provider: str, roles: Sequence[str]) -> ImageSet: ...

    def load_images(self, provider: str, handle: ClusterHandle, images: ImageSet, deadline: float) -> ImageLoad: ...
    def kubernetes_release(self, request: str) -> str: ...


_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def extra_requirements(requires: Iterable[str], extra: str = EXTRA) -> list[str]:
    """The distributions that ``extra`` adds, from a distribution's ``Requires-Dist`` lines. Pure."""
    names = []
    for line in requires:
        requirement, _, marker = line.partition(";")
        match = _NAME.match(requirement)
        if match and extra in _EXTRA_MARKER.findall(marker):
            names.append(match.group(1))
    return names


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_extra(installed: Callable[[str], bool] | None = None) -> list[str]:
    """The test bed's extra dependencies not installed here, as k3s-dr's own metadata lists them.

    Run from a source tree that was never installed there is no metadata: nothing is reported
    missing, and an absent module shows when the test bed is imported.
    """
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    is_installed = installed or _installed
    return [name for name in extra_requirements(requires) if not is_installed(name)]


def unavailable(needed_by: str, missing: Iterable[str]) -> ExtraMissing:
    """The one line for a missing test bed: who needs it, what is missing, how to install it."""
    what = ", ".join(missing) or TESTBED_PACKAGE
    return ExtraMissing(f"{needed_by} needs the test bed (the '{EXTRA}' extra; not installed here: {what})",
                        extra=EXTRA)


def load_testbed(module: str, needed_by: str) -> ModuleType:
    """``k3s_dr_testbed.<module>``, or an :class:`ExtraMissing` naming the extra."""
    missing = missing_extra()
    if missing:
        raise unavailable(needed_by, missing)
    try:
        return importlib.import_module(f"{TESTBED_PACKAGE}.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != TESTBED_PACKAGE:
            raise  # a module the test bed imports is missing: a packaging bug, not a missing extra
        raise unavailable(needed_by, [TESTBED_PACKAGE]) from None


def _testbed(needed_by: str) -> TestbedSide:
    return cast("TestbedSide", load_testbed(TESTBED_SIDE, needed_by))


def start_cluster(provider: str, spec: ClusterSpec, *, kubeconfig_path: Path | str | None = None) -> ClusterHandle:
    """A ready cluster from ``provider``; ``kubeconfig`` opens the existing cluster instead of starting one."""
    if provider == EXISTING:
        from dr_lib.cluster.kubeconfig import open_existing  # noqa: PLC0415 - the kubernetes client loads only here

        return open_existing(kubeconfig_path)
    if provider not in TESTBED_PROVIDERS:
        raise UsageError(f"cluster provider {provider!r} is unknown: accepted is {', '.join(PROVIDERS)}")
    return _testbed(f"the {provider} cluster provider").start(provider, spec)


def prepare_provider(provider: str, progress: Progress, kubernetes_version: str | None = None) -> None:
    """Whatever ``provider`` needs before its first cluster (the local one builds the binaries of
    ``kubernetes_version``; an unsupported version is refused here, before anything starts)."""
    if provider in TESTBED_PROVIDERS:
        _testbed(f"the {provider} cluster provider").prepare(provider, progress, kubernetes_version)


def kubernetes_release(provider: str, request: str | None) -> str | None:
    """The exact Kubernetes release (``v1.37.2``) a request (``1.37``, ``oldest``…) names for the test bed's
    providers, checked before anything runs: an unsupported one is a UsageError listing the supported."""
    if request is None or provider not in TESTBED_PROVIDERS:
        return request
    return _testbed(f"--kubernetes-version on the {provider} cluster provider").kubernetes_release(request)


def real_node() -> RealNodeFacts:
    """The test bed's real node: where a drill's database pod runs for real."""
    return _testbed("the real node (--real-node)").real_node()


def drill_images(provider: str, roles: Sequence[str], named: Mapping[str, str],
                 users: Mapping[str, Sequence[str]]) -> ImageSet:
    """The images for ``roles`` on ``provider``: the test bed's locally built ones (``local``, ``k3d``),
    or for an existing cluster those ``named`` in ``drill.images`` (``users``: who needs each role, for
    the refusal when one is not named)."""
    if provider == EXISTING:
        from dr_lib.cluster.kubeconfig import named_images  # noqa: PLC0415 - the kubernetes client loads only here

        return named_images(roles, named, users)
    if provider not in TESTBED_PROVIDERS:
        raise UsageError(f"cluster provider {provider!r} is unknown: accepted is {', '.join(PROVIDERS)}")
    return _testbed(f"the {provider} cluster provider").drill_images(provider, roles)


def load_images(provider: str, handle: ClusterHandle, images: ImageSet, deadline: float) -> ImageLoad:
    """Put ``images`` into the cluster of ``handle`` the way it takes images; an existing cluster pulls
    them itself (k3s-dr cannot load images into someone else's nodes)."""
    if provider == EXISTING:
        return ImageLoad(handle.name, "none: named in drill.images, the cluster's nodes pull them",
                         tuple(sorted(set(images.refs.values()))), 0.0)
    return _testbed(f"the {provider} cluster provider").load_images(provider, handle, images, deadline)
