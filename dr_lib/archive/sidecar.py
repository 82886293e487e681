"""``<archive>.verified.json``: the record that an archive passed verification.

Written atomically only after :func:`dr_lib.archive.verify_archive` passed (or, for the archive a
backup has just written, :func:`dr_lib.archive.access.verify_written`). It binds the
verdict to the exact file (sha256 and size of the whole archive), so a file replaced or
truncated later no longer counts as verified: :func:`is_verified` compares the size cheaply;
``k3s-dr verify`` recomputes everything. It also records the archive's user objects, counted
from its objects (by that verification, or by the export that wrote them), with the version of
the rules that counted them: ``k3s-dr list``, rotation and the conformance suite read them without
opening the archive; and the verdict on the archive's signature at that verification
(``signature``: state, key id, reason), which the conformance suite's probe (standard library
only, no Ed25519) reads likewise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib import __version__
from dr_lib.archive import format as fmt
from dr_lib.archive.access import VerifyResult
from dr_lib.archive.fsutil import atomic_write
from dr_lib.archive.userobjects import RULES_VERSION


@dataclass(frozen=True)
class Sidecar:
    archive: str
    sha256: str
    bytes: int
    objects: int
    verified_at: str
    tool_version: str
    user_objects: int | None = None  # None: written before k3s-dr recorded them
    user_objects_rules: int | None = None
    signature: dict[str, Any] | None = None  # SignatureCheck.to_dict() of that verification; None: not recorded

    @property
    def current_user_objects(self) -> int | None:
        """The recorded user objects when the current rules counted them, else None."""
        return self.user_objects if self.user_objects_rules == RULES_VERSION else None

    def to_dict(self) -> dict[str, Any]:
        return {"archive": self.archive, "sha256": self.sha256, "bytes": self.bytes, "objects": self.objects,
                "verified_at": self.verified_at, "tool_version": self.tool_version,
                "user_objects": self.user_objects, "user_objects_rules": self.user_objects_rules,
                "signature": self.signature}


def sidecar_path(archive: Path) -> Path:
    return archive.with_name(fmt.sidecar_name(archive.name))


def write_sidecar(result: VerifyResult, now: datetime) -> Sidecar:
    archive = result.path.resolve()  # verified through a link: the sidecar belongs beside the file itself
    sidecar = Sidecar(archive.name, result.sha256, result.bytes, result.objects, fmt.format_time(now), __version__,
                      result.user_objects, RULES_VERSION, result.signature.to_dict())
    atomic_write(sidecar_path(archive), (json.dumps(sidecar.to_dict(), indent=2) + "\n").encode())
    return sidecar


def read_sidecar(archive: Path) -> Sidecar | None:
    """The sidecar of ``archive`` if it exists and is well formed, else None."""
    try:
        data = json.loads(sidecar_path(archive).read_bytes())
        sidecar = Sidecar(str(data["archive"]), str(data["sha256"]), int(data["bytes"]), int(data["objects"]),
                          str(data["verified_at"]), str(data["tool_version"]),
                          _count(data.get("user_objects")), _count(data.get("user_objects_rules")),
                          data.get("signature") if isinstance(data.get("signature"), dict) else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sidecar


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def is_verified(archive: Path) -> bool:
    """A sidecar exists for this very file (same name, same size)."""
    sidecar = read_sidecar(archive)
    if sidecar is None or sidecar.archive != archive.name:
        return False
    try:
        return archive.stat().st_size == sidecar.bytes
    except OSError:
        return False
