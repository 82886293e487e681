"""Our view of a volume beside restic's: the digest is that of what the snapshot holds, or the batch runs again.

The snapshot's node lists here are built from the real files' metadata (what ``restic ls`` prints for
them), then the files are changed behind it the ways a live workload does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dr_lib.datarepo.repository import SnapNode
from dr_lib.hooks import digestcache
from dr_lib.hooks.pvdata import tree_digest
from dr_lib.hooks.treescan import Meta, hash_files, reconcile, walk

KINDS = {"d": "dir", "f": "file", "l": "symlink"}


def as_snapshot(root: Path) -> dict[str, SnapNode]:
    """What restic would list for ``root`` now: type, size, mtime, ctime of each entry."""
    return {rel: SnapNode(KINDS[m.kind], m.size, m.mtime_ns, m.ctime_ns) for rel, m in walk(root).nodes.items()}


def volume(tmp_path: Path) -> Path:
    root = tmp_path / "vol"
    (root / "sub").mkdir(parents=True)
    (root / "a").write_bytes(b"alpha")
    (root / "sub" / "b").write_bytes(os.urandom(70_000))
    (root / "link").symlink_to("sub/b")
    os.mkfifo(root / "fifo")
    return root


def test_an_unchanged_volume_reconciles_to_its_tree_digest(tmp_path: Path) -> None:
    root = volume(tmp_path)
    scan = walk(root)
    assert scan.specials == ["fifo"] and scan.owner["mode"] == 0o755
    hash_files(scan, {})
    tree, problems = reconcile(scan, as_snapshot(root))
    assert problems == [] and tree.summary() == tree_digest(root)
    assert scan.bytes_read == 5 + 70_000


def test_files_restic_saw_but_we_did_not_read_are_read_now_if_unchanged(tmp_path: Path) -> None:
    root = volume(tmp_path)
    scan = walk(root)  # our walk happened before the file appeared
    (root / "late").write_bytes(b"written after our walk, before restic's")
    hash_files(scan, {})
    tree, problems = reconcile(scan, as_snapshot(root))
    assert problems == [] and tree.summary() == tree_digest(root)


def test_a_file_changed_in_place_after_the_reads_cannot_be_proven(tmp_path: Path) -> None:
    root = volume(tmp_path)
    scan = walk(root)
    hash_files(scan, {})
    snapshot = as_snapshot(root)
    time.sleep(0.05)  # past a coarse clock tick (10 ms at HZ=100)
    (root / "a").write_bytes(b"ALPHA")  # the same inode, new content: restic's read may have seen either
    _tree, problems = reconcile(scan, snapshot)
    assert problems == ["a (changed while being copied)"]


def test_a_file_restic_recorded_with_metadata_nobody_can_read_any_more_fails(tmp_path: Path) -> None:
    root = volume(tmp_path)
    snapshot = as_snapshot(root)
    time.sleep(0.05)  # past a coarse clock tick (10 ms at HZ=100)
    (root / "sub" / "b").write_bytes(b"replaced before we read it")
    scan = walk(root)
    hash_files(scan, {})
    _tree, problems = reconcile(scan, snapshot)
    assert problems == ["sub/b (changed while being copied)"]


def test_a_special_file_in_the_snapshot_is_not_accepted(tmp_path: Path) -> None:
    root = volume(tmp_path)
    scan = walk(root)
    hash_files(scan, {})
    snapshot = {**as_snapshot(root), "fifo": SnapNode("fifo", 0, 0, 0)}
    _tree, problems = reconcile(scan, snapshot)
    assert problems == ["fifo (a fifo appeared while being copied)"]


def test_the_cache_spares_reading_unchanged_files_and_survives_garbage(tmp_path: Path) -> None:
    root = volume(tmp_path)
    old = time.time() - 60
    for name in ("a", "sub/b"):
        os.utime(root / name, (old, old))
    time.sleep(1.1)  # ctime (not settable) must be older than the racy second too
    first = walk(root)
    hash_files(first, {})
    assert set(first.cacheable) == {"a", "sub/b"}
    digestcache.save(tmp_path, {str(root): first.cacheable})
    cache = digestcache.load(tmp_path)[str(root)]
    second = walk(root)
    hash_files(second, cache)
    assert second.bytes_read == 0 and second.hashes == first.hashes
    (root / "a").write_bytes(b"new")
    third = walk(root)
    hash_files(third, cache)
    assert third.bytes_read == 3
    (tmp_path / digestcache.CACHE_FILE).write_text('{"format": "k3s-dr-digest-cache", "volumes": {"x": [[1]]}}')
    assert digestcache.load(tmp_path) == {"x": {}}
    (tmp_path / digestcache.CACHE_FILE).write_text("garbage")
    assert digestcache.load(tmp_path) == {}


def test_reads_of_just_written_files_are_never_cached(tmp_path: Path) -> None:
    root = volume(tmp_path)
    scan = walk(root)
    hash_files(scan, {})
    assert scan.cacheable == {} and set(scan.hashes) == {"a", "sub/b"}
    assert isinstance(scan.hashes["a"][0], Meta)
