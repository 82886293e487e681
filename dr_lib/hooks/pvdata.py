"""Persistent-volume data: find a pod volume's directory on the node, and what a copy of it holds.

k3s's default storage (local-path) and hostPath volumes are plain directories on a node.
When that node is this machine, a volume is stored in the data repository (restic, see
:mod:`dr_lib.hooks.databatch`) with ownership, modes and times, plus a *tree digest*: one
sha256 over every entry's path, size and content hash (:mod:`dr_lib.hooks.treedigest`),
independent of how it is stored (a format-1 restore recomputes it while unpacking; a format-2
restore proves the restored tree against the snapshot, see :mod:`dr_lib.hooks.settle`). Regular
files, directories and symbolic links are kept; sockets, FIFOs and devices are left out and
listed; hard links come back as hard links (format 2) or copies (format 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.errors import VolumeError
from dr_lib.hooks.treedigest import TreeDigest
from dr_lib.hooks.treescan import stable_hash, walk

Lookup = Callable[[str], Mapping[str, Any] | None]  # name → object, None when it does not exist


@dataclass(frozen=True)
class VolumeSource:
    namespace: str
    pod: str
    volume: str  # the pod's volume name
    kind: str  # "hostPath" | "local"
    node_path: str
    node: str | None
    claim: str | None = None
    pv: str | None = None

    @property
    def member_name(self) -> str:
        """The archive's name for it: the claim's name (stable across pods), else <pod>.<volume>."""
        return self.claim or f"{self.pod}.{self.volume}"

    def meta(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "pod": self.pod, "volume": self.volume, "source_type": self.kind,
                "node_path": self.node_path, "node": self.node, "claim": self.claim, "pv": self.pv}


def resolve_volume(pod: Mapping[str, Any], volume: str, claims: Lookup, volumes: Lookup) -> VolumeSource:
    """Where ``volume`` of ``pod`` lives on its node; VolumeError naming the type when it is not a directory."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    namespace, name, node = str(meta.get("namespace", "")), str(meta.get("name", "")), spec.get("nodeName")
    found = next((v for v in spec.get("volumes") or [] if v.get("name") == volume), None)
    if found is None:
        names = ", ".join(str(v.get("name")) for v in spec.get("volumes") or []) or "none"
        raise VolumeError(f"pod {namespace}/{name} has no volume {volume!r}: its volumes are {names}")
    if "hostPath" in found:
        return VolumeSource(namespace, name, volume, "hostPath", str(found["hostPath"].get("path", "")), node)
    claim_name = (found.get("persistentVolumeClaim") or {}).get("claimName")
    if not claim_name:
        kinds = ", ".join(k for k in found if k != "name")
        raise VolumeError(f"volume {volume!r} of pod {namespace}/{name} is {kinds}: only hostPath and "
                          "local/local-path persistent volumes are directories we can copy (use a dump hook)")
    claim = claims(str(claim_name))
    pv_name = ((claim or {}).get("spec") or {}).get("volumeName")
    if not pv_name:
        raise VolumeError(f"claim {namespace}/{claim_name} of pod {namespace}/{name} is not bound to a volume")
    pv = volumes(str(pv_name)) or {}
    pv_spec = pv.get("spec") or {}
    for kind in ("hostPath", "local"):
        if kind in pv_spec:
            return VolumeSource(namespace, name, volume, kind, str(pv_spec[kind].get("path", "")), node,
                                str(claim_name), str(pv_name))
    kinds = ", ".join(k for k in pv_spec if k not in ("capacity", "accessModes", "claimRef", "nodeAffinity",
                                                         "persistentVolumeReclaimPolicy", "storageClassName",
                                                         "volumeMode", "mountOptions")) or "unknown"
    raise VolumeError(f"volume {pv_name} (claim {namespace}/{claim_name}) is {kinds}: only hostPath and local "
                      "volumes are directories on a node (use the zfs backend or a dump hook)")


@dataclass(frozen=True)
class VolumeCapture:
    """What a copy holds: the member's size and sha256, and the content's own count and digest."""

    bytes: int
    sha256: str
    files: int | None
    content_bytes: int | None
    tree_sha256: str | None
    skipped: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        return {"files": self.files, "content_bytes": self.content_bytes, "tree_sha256": self.tree_sha256,
                "skipped": list(self.skipped[:20]), **self.extra}


def tree_digest(root: Path) -> tuple[int, int, str]:
    """(files, content bytes, tree sha256) of a directory as it is now: every file read."""
    scan = walk(root)
    tree = TreeDigest()
    for rel, meta in scan.nodes.items():
        if meta.kind == "d":
            tree.directory(rel)
        elif meta.kind == "l":
            tree.symlink(rel, scan.links[rel])
        else:
            read = stable_hash(root / rel)
            if read is None:
                raise VolumeError(f"{root / rel} changed while being read")
            tree.file(rel, read[0].size, read[1])
    return tree.summary()
