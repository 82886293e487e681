"""Persistent-volume data: find a pod volume's directory on the node, copy it, put it back.

k3s's default storage (local-path) and hostPath volumes are plain directories on a node.
When that node is this machine, a volume is copied as an uncompressed tar (the archive
compresses it) with ownership, modes and times, plus a *tree digest*: one sha256 over every
entry's path, size and content hash, independent of the tar's layout, recomputed on the
restored directory to prove it holds the same data. Regular files, directories and symbolic
links are copied; sockets, FIFOs and devices are skipped and listed; hard links become copies.

Restore extracts into a hidden staging directory beside the target and renames it into place
only after the archive's checksum and the tree digest both matched: nothing half-written ever
carries the volume's name, and a non-empty directory already there is kept (or, with
``replace``, moved aside — never deleted).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from dr_lib.archive.fsutil import create_private
from dr_lib.atomic import fsync_dir
from dr_lib.errors import VolumeError

_CHUNK = 1024 * 1024
STAGING_PREFIX = ".k3s-dr-restoring-"
REPLACED_SUFFIX = ".k3s-dr-replaced-"

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


@dataclass
class _Tree:
    digest: Any = field(default_factory=hashlib.sha256)
    files: int = 0
    content_bytes: int = 0
    skipped: list[str] = field(default_factory=list)

    def add(self, line: bytes) -> None:
        self.digest.update(line)


def _entries(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of everything under root in a fixed order; root itself first, as '.'."""
    yield ".", root.lstat()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel if rel else root) as listing:
                names = sorted(entry.name for entry in listing)
        except FileNotFoundError:
            continue
        subdirs = []
        for entry_name in names:
            child = f"{rel}/{entry_name}" if rel else entry_name
            try:
                info = (root / child).lstat()
            except FileNotFoundError:
                continue  # removed since the listing (a live workload): not part of this copy
            yield child, info
            if stat.S_ISDIR(info.st_mode):
                subdirs.append(child)
        stack.extend(reversed(subdirs))


def _hash_file(path: Path, size: int, sink: Callable[[bytes], None] | None = None) -> str:
    digest = hashlib.sha256()
    left = size
    with path.open("rb") as handle:
        while left > 0:
            chunk = handle.read(min(_CHUNK, left))
            if not chunk:
                raise VolumeError(f"{path} shrank while being read (it was being written): quiesce the workload "
                                  "with hooks")
            digest.update(chunk)
            if sink is not None:
                sink(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _line(kind: str, rel: str, *parts: str) -> bytes:
    return b" ".join([kind.encode(), os.fsencode(rel), *(p.encode() for p in parts)]) + b"\n"


class _HashingWriter:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.sha, self.count = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.handle.write(data)
        self.sha.update(data)
        self.count += len(data)
        return len(data)

    def tell(self) -> int:
        return self.count


class _FileFeed:
    """A file read exactly ``size`` bytes long, hashed on the way (tarfile reads it through)."""

    def __init__(self, path: Path, size: int) -> None:
        self.handle = path.open("rb")
        self.left = size
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.handle.read(n) if n > 0 else b""
        self.sha.update(data)
        self.left -= len(data)
        return data


def _tarinfo(rel: str, info: os.stat_result, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(rel)
    member.type, member.linkname = kind, linkname
    member.mode, member.uid, member.gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
    member.mtime = int(info.st_mtime)
    member.size = info.st_size if kind == tarfile.REGTYPE else 0
    return member


def copy_directory(root: Path, target: Path) -> VolumeCapture:
    """Write ``root`` as a tar into the new private file ``target``; VolumeError when it cannot."""
    if not root.is_dir() or root.is_symlink():
        raise VolumeError(f"{root} is not a directory on this machine")
    tree = _Tree()
    with os.fdopen(create_private(target), "wb") as handle:
        out = _HashingWriter(handle)
        with tarfile.TarFile(fileobj=cast(IO[bytes], out), mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel, info in _entries(root):
                _add(tar, tree, root, rel, info)
        handle.flush()
        os.fsync(handle.fileno())
    return VolumeCapture(out.count, out.sha.hexdigest(), tree.files, tree.content_bytes, tree.digest.hexdigest(),
                         tuple(tree.skipped))


def _add(tar: tarfile.TarFile, tree: _Tree, root: Path, rel: str, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        tar.addfile(_tarinfo(rel, info, tarfile.DIRTYPE))
        tree.add(_line("d", rel))
    elif stat.S_ISLNK(mode):
        link = os.readlink(root / rel)  # noqa: PTH115 - the link's text exactly; Path would normalize it
        tar.addfile(_tarinfo(rel, info, tarfile.SYMTYPE, link))
        tree.add(_line("l", rel, link))
    elif stat.S_ISREG(mode):
        try:
            feed = _FileFeed(root / rel, info.st_size)
        except FileNotFoundError:
            tree.skipped.append(f"{rel} (removed while copying)")
            return
        try:
            tar.addfile(_tarinfo(rel, info, tarfile.REGTYPE), cast(IO[bytes], feed))
        except OSError as exc:
            raise VolumeError(f"{root / rel} changed while being copied ({exc}): quiesce the workload with hooks"
                              ) from None
        finally:
            feed.handle.close()
        tree.files += 1
        tree.content_bytes += info.st_size
        tree.add(_line("f", rel, str(info.st_size), feed.sha.hexdigest()))
    else:
        tree.skipped.append(rel)


def tree_digest(root: Path) -> tuple[int, int, str]:
    """(files, content bytes, tree sha256) of a directory, as :func:`copy_directory` computes them."""
    tree = _Tree()
    for rel, info in _entries(root):
        if stat.S_ISDIR(info.st_mode):
            tree.add(_line("d", rel))
        elif stat.S_ISLNK(info.st_mode):
            tree.add(_line("l", rel, os.readlink(root / rel)))  # noqa: PTH115 - exact link text
        elif stat.S_ISREG(info.st_mode):
            tree.files += 1
            tree.content_bytes += info.st_size
            tree.add(_line("f", rel, str(info.st_size), _hash_file(root / rel, info.st_size)))
    return tree.files, tree.content_bytes, tree.digest.hexdigest()


def _keep_owner(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's ``data`` filter (no absolute paths, no escaping links, no devices), owners and modes kept."""
    if member.name.startswith("/"):
        # data_filter would quietly make it relative; our copies never hold one, so the archive is not ours
        raise tarfile.AbsolutePathError(member)
    safe = tarfile.data_filter(member, dest)
    if member.issym():
        return safe.replace(uid=member.uid, gid=member.gid, uname="", gname="", deep=False)
    # setuid/setgid are dropped: a restored volume must not grant privileges
    return safe.replace(uid=member.uid, gid=member.gid, uname="", gname="", mode=member.mode & 0o1777, deep=False)


def extract_tar(stream: IO[bytes], staging: Path) -> None:
    """Unpack a volume tar read from ``stream`` (front to back) into the new directory ``staging``."""
    staging.mkdir(mode=0o700)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            tar.extractall(staging, numeric_owner=True, filter=_keep_owner)  # noqa: S202 - filtered: see _keep_owner
    except (tarfile.TarError, OSError) as exc:
        raise VolumeError(f"cannot unpack the volume into {staging}: {exc}") from None


def staging_for(target: Path, token: str) -> Path:
    return target.parent / f"{STAGING_PREFIX}{target.name}-{token}"


def place(staging: Path, target: Path, policy: str, stamp: str) -> tuple[str, Path | None]:
    """Rename ``staging`` to ``target``: ("placed" | "replaced" | "kept-existing", where the old data went)."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise VolumeError(f"{target} exists and is not a directory: not touched")
    moved = None
    if target.exists() and any(target.iterdir()):
        if policy != "replace":
            shutil.rmtree(staging, ignore_errors=True)
            return "kept-existing", None
        moved = target.with_name(f"{target.name}{REPLACED_SUFFIX}{stamp}")
        target.rename(moved)
    elif target.exists():
        target.rmdir()
    staging.rename(target)
    fsync_dir(target.parent)
    return ("replaced" if moved else "placed"), moved
