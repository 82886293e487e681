"""Archives written straight from objects with the real archive writer (no source cluster): for restore
tests whose point is the restore, not the backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.manifest import ClusterIdentity, FileEntry, Manifest
from dr_lib.archive.writer import Spool, write_archive

Kinds = list[tuple[str, str, bool, list[dict[str, Any]]]]  # (plural, kind, namespaced, objects) of the core group


def server_metadata(i: int) -> dict[str, Any]:
    """What a LIST returns beside the object's own fields (the restore strips it)."""
    return {"uid": f"00000000-0000-4000-8000-{i:012d}", "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-11-28T10:00:00Z"}


def write_objects_archive(directory: Path, kinds: Kinds) -> Path:
    spool_dir = directory / "spool"
    spool_dir.mkdir(parents=True)
    files, sources = [], {}
    for plural, kind, namespaced, objects in kinds:
        spool = Spool(spool_dir / plural)
        spool.write_objects(objects)
        summary = spool.close()
        member = fmt.resource_member("", plural)
        files.append(FileEntry(member, "", "v1", plural, kind, namespaced, summary.objects, summary.bytes,
                               summary.sha256))
        sources[member] = summary.path
    manifest = Manifest(tool_version="test", created="2026-11-28T10:00:00Z",
                        cluster=ClusterIdentity("https://source", "v1.34.2", "source"), files=tuple(files))
    return write_archive(directory, manifest, sources)
