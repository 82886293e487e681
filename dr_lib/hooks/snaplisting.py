"""What a volume's snapshot must hold before restic may restore it, judged from restic's own listing.

restic 0.14's restorer writes through the paths it creates: given a name twice (a link, then an
empty file of the same name) it creates the file through the link, outside the staging directory,
and makes it setuid if told so (``tests/integration/test_restic_forge.py``); it also makes devices
and FIFOs. So before ``restic restore`` runs, the listing of the volume's path in the
snapshot must show the manifest's root tree, every path once (the listing parser refuses twins,
:func:`dr_lib.datarepo.repository.parse_listing`), the volume's own path as a directory, and below
it only files, directories and symbolic links with plain names. What passes is the tree the
restored directory is compared with afterwards (:mod:`dr_lib.hooks.settle`). Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dr_lib.archive.dataentry import is_plain_absolute
from dr_lib.datarepo.repository import SnapNode, Snapshot
from dr_lib.errors import VolumeContentRefused

ALLOWED_KINDS = ("file", "dir", "symlink")
SHOWN = 5


@dataclass(frozen=True)
class Expected:
    """One entry of a volume as the restored directory must show it."""

    kind: str  # file, dir or symlink (restic's names)
    size: int  # a file's size; 0 for the others


def expected_tree(source: str, tree: str, snapshot: Snapshot, nodes: Mapping[str, SnapNode]) -> dict[str, Expected]:
    """Every entry below ``source`` by its path relative to it; VolumeContentRefused naming what is wrong."""
    if not is_plain_absolute(source):
        raise VolumeContentRefused(f"the volume's path in the repository {source!r} is not a plain absolute path")
    problems = [] if snapshot.tree == tree else \
        [f"its root tree {snapshot.tree[:12]}… is not the manifest's {tree[:12]}…"]
    root = nodes.get(source)
    if root is None or root.kind != "dir":
        problems.append(f"{source} is {'missing' if root is None else 'a ' + root.kind}, not a directory")
    prefix = source + "/"
    expected: dict[str, Expected] = {}
    for path, node in sorted(nodes.items()):
        if path == source:
            continue
        if not (path.startswith(prefix) and is_plain_absolute(path)):  # below a plain source: plain names
            problems.append(f"{path!r} is not a plain path inside {source}")
        elif node.kind not in ALLOWED_KINDS:
            problems.append(f"{path} ({node.kind})")
        else:
            expected[path[len(prefix):]] = Expected(node.kind, node.size if node.kind == "file" else 0)
    if problems:
        more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise VolumeContentRefused(f"the snapshot is not what the backup stored: {', '.join(problems[:SHOWN])}{more}")
    return expected

