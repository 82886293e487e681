"""The key job (``k3s-dr keygen``): a new Ed25519 key pair for signing archives and report seals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.clock import utc_now
from dr_lib.errors import DRError
from dr_lib.signing.keys import KeyFiles, generate_keypair


@dataclass(frozen=True)
class KeygenOptions:
    directory: str
    force: bool = False  # move an existing pair aside (kept as <name>.<UTC>.old) instead of refusing


@dataclass(frozen=True)
class Keygen:
    files: KeyFiles

    def to_dict(self) -> dict[str, Any]:
        return self.files.to_dict()

    @property
    def exit_error(self) -> DRError | None:
        return None


def keygen(options: KeygenOptions) -> Keygen:
    return Keygen(generate_keypair(Path(options.directory), force=options.force, now=utc_now()))
