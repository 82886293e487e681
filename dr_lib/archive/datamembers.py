"""Reading in-archive application data members (format v1) back out of an archive, in one streaming pass.

A tar.gz can only be read front to back, so every data member a restore wants is handed to
one handler call in a single pass: the handler reads as much as it needs from the member's
stream; what it leaves is drained, and the member's size and sha256 are checked against the
manifest *after* the handler returns. So a handler must treat what it wrote as provisional
(a staging directory, a temporary file) until :func:`read_data_members` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from dr_lib.archive.access import skip_objects_and_datastore
from dr_lib.archive.dataentry import DataEntry
from dr_lib.archive.manifest import Manifest
from dr_lib.archive.reader import check_digest, hashed, open_archive, skip_member

_CHUNK = 1024 * 1024

DataHandler = Callable[[DataEntry, IO[bytes]], None]


def read_data_members(path: str | Path, handler: DataHandler,
                      wanted: Callable[[DataEntry], bool] = lambda _entry: True) -> Manifest:
    """Call ``handler(entry, stream)`` for every wanted data member; IntegrityError on any mismatch."""
    with open_archive(path) as stream:
        manifest = stream.read_manifest()
        skip_objects_and_datastore(stream, manifest)
        repository = manifest.data_repository
        if repository is not None:
            skip_member(stream, repository.key_path, repository.key_bytes, repository.key_sha256)
        for data in manifest.data:
            if not data.in_archive:
                continue
            if not wanted(data):
                skip_member(stream, data.path, data.bytes, data.sha256)
                continue
            reader = hashed(stream.open_member(stream.next_member(data.path)))
            handler(data, reader.as_io())
            while reader.read(_CHUNK):
                pass
            check_digest(data.path, reader, data.bytes, data.sha256)
    return manifest


__all__ = ["DataHandler", "read_data_members"]
