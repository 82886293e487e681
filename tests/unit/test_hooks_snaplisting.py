"""What a snapshot's listing must show before restic may restore a volume: a table of listings built to hurt."""

from __future__ import annotations

import json

import pytest

from dr_lib.datarepo.repository import SnapNode, Snapshot, parse_listing
from dr_lib.errors import IntegrityError, VolumeContentRefused
from dr_lib.hooks.snaplisting import Expected, expected_tree

SOURCE = "/storage/pvc-a"
TREE = "t" * 64
SNAPSHOT = Snapshot("s" * 64, TREE, None, (SOURCE,), (), "2026-12-05T00:00:00Z")


def node(kind: str, size: int = 0) -> SnapNode:
    return SnapNode(kind, size, 0, 0)


GOOD = {SOURCE: node("dir"), f"{SOURCE}/a": node("file", 3), f"{SOURCE}/d": node("dir"),
        f"{SOURCE}/d/b": node("file", 0), f"{SOURCE}/l": node("symlink", 1)}


def test_a_good_listing_gives_each_entry_relative_to_the_volume() -> None:
    assert expected_tree(SOURCE, TREE, SNAPSHOT, GOOD) == {
        "a": Expected("file", 3), "d": Expected("dir", 0), "d/b": Expected("file", 0),
        "l": Expected("symlink", 0)}


@pytest.mark.parametrize(("source", "tree", "nodes", "reason"), [
    (SOURCE, "o" * 64, GOOD, "its root tree tttttttttttt… is not the manifest's oooooooooooo…"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/disk": node("chardev")}, "/storage/pvc-a/disk (chardev)"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/sda": node("dev")}, "/storage/pvc-a/sda (dev)"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/pipe": node("fifo")}, "(fifo)"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/sock": node("socket")}, "(socket)"),
    (SOURCE, TREE, {**GOOD, SOURCE: node("symlink")}, "/storage/pvc-a is a symlink, not a directory"),
    (SOURCE, TREE, {k: v for k, v in GOOD.items() if k != SOURCE}, "/storage/pvc-a is missing"),
    (SOURCE, TREE, {**GOOD, "/storage/pvc-b/x": node("file")}, "'/storage/pvc-b/x' is not a plain path inside"),
    (SOURCE, TREE, {**GOOD, "/storage/pvc-ab": node("file")}, "'/storage/pvc-ab' is not a plain path inside"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/../etc": node("dir")}, "is not a plain path inside"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}//x": node("file")}, "is not a plain path inside"),
    (SOURCE, TREE, {**GOOD, f"{SOURCE}/./x": node("file")}, "is not a plain path inside"),
    ("/storage/../etc", TREE, GOOD, "is not a plain absolute path"),
    ("storage/pvc-a", TREE, GOOD, "is not a plain absolute path"),
    ("/", TREE, GOOD, "is not a plain absolute path"),
    ("/storage/pvc-a/", TREE, GOOD, "is not a plain absolute path"),
    ("//storage/pvc-a", TREE, GOOD, "is not a plain absolute path"),
])
def test_a_listing_built_to_hurt_is_refused_before_restic_writes(source: str, tree: str, nodes: dict[str, SnapNode],
                                                                  reason: str) -> None:
    with pytest.raises(VolumeContentRefused) as refused:
        expected_tree(source, tree, SNAPSHOT, nodes)
    assert reason in refused.value.message


def test_many_problems_are_counted_not_all_shown() -> None:
    fifos = {f"{SOURCE}/p{i}": node("fifo") for i in range(8)}
    with pytest.raises(VolumeContentRefused, match="and 3 more"):
        expected_tree(SOURCE, TREE, SNAPSHOT, {**GOOD, **fifos})


def test_a_name_listed_twice_is_refused_by_the_listing_parser() -> None:
    """A link and a directory of one name: restic would restore the link, then write through it."""
    head = {"struct_type": "snapshot", "id": "s" * 64, "tree": TREE, "paths": [SOURCE], "time": "2026-12-05T00:00:00Z"}
    twin = [{"struct_type": "node", "path": f"{SOURCE}/x", "type": kind, "mtime": "2026-12-05T00:00:00Z",
             "ctime": "2026-12-05T00:00:00Z"} for kind in ("symlink", "dir")]
    with pytest.raises(IntegrityError, match="holds '/storage/pvc-a/x' twice"):
        parse_listing("\n".join(json.dumps(x) for x in (head, *twin)))
