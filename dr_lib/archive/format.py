"""Archive format (v1, v2): names, member paths and the limits a reader enforces.

One place for every name and number of the format, so the writer, the reader, rotation and
the ``list`` command cannot disagree. The full description is ``docs/archive-format.md``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

FORMAT_NAME = "k3s-dr-archive"
FORMAT_VERSION = 2  # written when the archive references data in the repository
BASE_FORMAT_VERSION = 1  # written otherwise: the layout every earlier release reads
READABLE_VERSIONS = (1, 2)

MANIFEST_MEMBER = "manifest.json"
# Optional, right after the manifest: its Ed25519 signature (dr_lib.signing; absent in unsigned archives).
SIGNATURE_MEMBER = "manifest.json.sig"
RESOURCES_DIR = "resources"
DATASTORE_DIR = "datastore"
SQLITE_MEMBER = f"{DATASTORE_DIR}/state.db"
ETCD_MEMBER = f"{DATASTORE_DIR}/etcd-snapshot.db"
TOKEN_MEMBER = f"{DATASTORE_DIR}/token"
DATASTORE_KINDS = ("sqlite", "etcd")

ARCHIVE_PREFIX = "k3s-dr-"
ARCHIVE_SUFFIX = ".tar.gz"
ARCHIVE_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
SIDECAR_SUFFIX = ".verified.json"
# Hidden names for work in progress: never matched by ARCHIVE_NAME, so nothing half-written
# can be listed, rotated, verified as an archive or promoted.
TEMP_PREFIX = ".k3s-dr-tmp-"
ARCHIVE_NAME = re.compile(r"^k3s-dr-(\d{8}T\d{6}Z)\.tar\.gz$")

ARCHIVE_FILE_MODE = 0o600  # archives hold Secrets and the server token
ARCHIVE_DIR_MODE = 0o700

DOCUMENT_SEPARATOR = b"---\n"

# Reader limits. The reader streams, so a hostile archive costs time, never memory or disk;
# these turn such an archive into a clear IntegrityError instead of an endless read.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096  # ~250 bytes in practice (dr_lib.signing.envelope.MAX_ENVELOPE_BYTES)
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # the API server caps objects at ~1.5 MB; be generous
MAX_COMPRESSION_RATIO = 200  # real archives compress 5-40x; deflate bombs reach ~1000x
RATIO_CHECK_AFTER_BYTES = 64 * 1024 * 1024  # tiny archives may compress absurdly well

_RESOURCE_MEMBER = re.compile(r"^resources/[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.yaml$")
_DNS_LABELS = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def resource_member(group: str, plural: str) -> str:
    """``resources/<plural>.yaml`` for the core group, ``resources/<plural>.<group>.yaml`` otherwise."""
    name = plural if not group else f"{plural}.{group}"
    return f"{RESOURCES_DIR}/{name}.yaml"


def is_resource_member(path: str) -> bool:
    return _RESOURCE_MEMBER.match(path) is not None


def is_safe_name(text: str) -> bool:
    """A plural or group as the API server spells them (lower-case DNS labels), nothing else."""
    return _DNS_LABELS.match(text) is not None


def archive_name(created: datetime) -> str:
    return f"{ARCHIVE_PREFIX}{created.astimezone(UTC).strftime(ARCHIVE_TIME_FORMAT)}{ARCHIVE_SUFFIX}"


def archive_time(name: str) -> datetime | None:
    """The UTC time encoded in an archive's file name, or None when it is not one of ours."""
    match = ARCHIVE_NAME.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), ARCHIVE_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def sidecar_name(archive: str) -> str:
    return archive + SIDECAR_SUFFIX


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, second precision: the manifest's ``created``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`; raises ValueError for anything else."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def shown(value: Any, limit: int = 80) -> str:
    """A value read from an archive, for an error message: one short line, however large or deep it is."""
    if isinstance(value, (dict, list)) and value:  # repr of [[[[… recurses as deep as the input
        return f"a JSON {'object' if isinstance(value, dict) else 'array'} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
