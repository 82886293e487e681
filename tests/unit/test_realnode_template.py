"""Cloning the containerd template: immutable files shared by hard links, databases copied."""

from __future__ import annotations

import time
from pathlib import Path

from k3s_dr_testbed.realnode.template import _clone


def test_clone_links_layers_and_copies_databases(tmp_path: Path) -> None:
    template = tmp_path / "template"
    blob = template / "io.containerd.content.v1.content" / "blobs" / "sha256" / "abc"
    layer = template / "io.containerd.snapshotter.v1.overlayfs" / "snapshots" / "1" / "fs" / "usr" / "bin" / "python3"
    meta = template / "io.containerd.metadata.v1.bolt" / "meta.db"
    for path, data in ((blob, b"blob"), (layer, b"elf"), (meta, b"bolt")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (layer.parent / "python").symlink_to("python3")
    target = tmp_path / "node" / "containerd-root"
    target.parent.mkdir()
    _clone(template, target, time.monotonic() + 30)
    cloned = {p.relative_to(target) for p in target.rglob("*")}
    assert cloned == {p.relative_to(template) for p in template.rglob("*")}
    assert (target / blob.relative_to(template)).stat().st_ino == blob.stat().st_ino
    assert (target / layer.relative_to(template)).stat().st_ino == layer.stat().st_ino
    copied_meta = target / meta.relative_to(template)
    assert copied_meta.read_bytes() == b"bolt" and copied_meta.stat().st_ino != meta.stat().st_ino
    copied_meta.write_bytes(b"changed by this node's containerd")
    assert meta.read_bytes() == b"bolt"  # the template and other nodes keep theirs
    assert (target / layer.relative_to(template)).parent.joinpath("python").readlink() == Path("python3")
