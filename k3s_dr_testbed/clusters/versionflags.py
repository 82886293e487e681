"""Component flags that differ between Kubernetes releases: one row per flag and range of minors,
each with the reason. :func:`flags_for` is what :mod:`.components` appends to a command line.

Rows name the first and last minor they hold for (``None``: open-ended), so a new release either
inherits a row or gets its own; the unit tests check that every supported minor gets exactly one
``--controllers`` and that no two rows for one component overlap on the same flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
KUBELET = "kubelet"


@dataclass(frozen=True)
class VersionFlag:
    component: str
    flag: str
    first_minor: int | None  # None: every release before last_minor
    last_minor: int | None  # None: every release from first_minor on
    why: str

    @property
    def name(self) -> str:
        return self.flag.partition("=")[0]

    def applies_to(self, minor: int) -> bool:
        return (self.first_minor is None or minor >= self.first_minor) and (
            self.last_minor is None or minor <= self.last_minor)


FLAGS: tuple[VersionFlag, ...] = (
    VersionFlag(CONTROLLER_MANAGER, "--controllers=*,-nodeipam,-cloud-node-lifecycle", None, 36,
                "nodeipam allocates pod CIDRs we do not use; cloud-node-lifecycle needs a cloud. The node "
                "lifecycle controller stays: it removes the not-ready taint new nodes are created with"),
    VersionFlag(CONTROLLER_MANAGER, "--controllers=*,-nodeipam", 37, None,
                "1.37's controller-manager no longer has cloud-node-lifecycle: naming it in --controllers "
                "fails its start (seen on v1.37.2)"),
    VersionFlag(APISERVER, "--endpoint-reconciler-type=none", 37, None,
                "1.37's API server refuses a loopback --advertise-address while the endpoint reconciler runs "
                "(\"may not be in the loopback range\"); ours listens on 127.0.0.1 only, so the reconciler is "
                "off and the default/kubernetes Service has no endpoints (no pod reaches the API server here)"),
)

_MINOR = re.compile(r"^v?1\.(\d+)")


def minor_of(kubernetes_version: str) -> int:
    """v1.37.2 → 37. Pure."""
    match = _MINOR.match(kubernetes_version)
    if match is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes_version!r}")
    return int(match.group(1))


def flags_for(component: str, kubernetes_version: str, rows: tuple[VersionFlag, ...] = FLAGS) -> list[str]:
    """The version-dependent flags of ``component`` for that release, in table order. Pure."""
    minor = minor_of(kubernetes_version)
    return [row.flag for row in rows if row.component == component and row.applies_to(minor)]
