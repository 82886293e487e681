"""Archive format v1: the one file a backup leaves and a restore trusts (see docs/archive-format.md).

Public API (restore, checks and drills build on it):
``verify_archive(path) -> VerifyResult``, ``read_manifest(path) -> Manifest``,
``iter_archive_objects(path) -> Iterator[(FileEntry, dict)]``, ``extract_datastore(path, dir)``,
``exclusive_lock(path, what)`` and the sidecar and link helpers.
"""

from dr_lib.archive.access import (
    DatastoreFiles,
    VerifyResult,
    extract_datastore,
    iter_archive_objects,
    object_counts,
    read_manifest,
    verify_archive,
)
from dr_lib.archive.links import LinkState, promote, read_link, read_links
from dr_lib.archive.lock import exclusive_lock
from dr_lib.archive.manifest import ClusterIdentity, DatastoreEntry, FileEntry, Manifest
from dr_lib.archive.sidecar import Sidecar, is_verified, read_sidecar, write_sidecar

__all__ = [
    "ClusterIdentity",
    "DatastoreEntry",
    "DatastoreFiles",
    "FileEntry",
    "LinkState",
    "Manifest",
    "Sidecar",
    "VerifyResult",
    "exclusive_lock",
    "extract_datastore",
    "is_verified",
    "iter_archive_objects",
    "object_counts",
    "promote",
    "read_link",
    "read_links",
    "read_manifest",
    "read_sidecar",
    "verify_archive",
    "write_sidecar",
]
