"""The two links an operator and the auto-restore unit rely on, read and moved atomically.

Both are relative symbolic links in the backup directory (``latest-backup.tar.gz`` and
``k3s-cluster-snapshot.tar.gz`` by default) and only ever point at a verified archive.
Each is replaced by renaming a fresh link over it, so at every instant it names either the
previous archive or the new one, never nothing and never a missing file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dr_lib.archive.fsutil import replace_symlink


@dataclass(frozen=True)
class LinkState:
    name: str
    state: str  # "ok" | "missing" | "dangling" | "not-a-link" | "outside"
    target: str | None  # the archive file name the link points at (when state is "ok" or "dangling")

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "state": self.state, "target": self.target}


def read_link(directory: Path, name: str) -> LinkState:
    link = directory / name
    if not link.is_symlink():
        return LinkState(name, "not-a-link" if link.exists() else "missing", None)
    target = str(link.readlink())
    if "/" in target.rstrip("/"):
        resolved = (directory / target).resolve()
        if resolved.parent != directory.resolve():
            return LinkState(name, "outside", target)
        target = resolved.name
    return LinkState(name, "ok" if (directory / target).is_file() else "dangling", target)


def read_links(directory: Path, names: Sequence[str]) -> list[LinkState]:
    return [read_link(directory, name) for name in names]


def promote(directory: Path, archive_name: str, names: Sequence[str]) -> list[LinkState]:
    """Point every link in ``names`` at ``archive_name`` (which must exist in ``directory``)."""
    if not (directory / archive_name).is_file():
        raise FileNotFoundError(f"refusing to link to {archive_name!r}: no such archive in {directory}")
    for name in names:
        replace_symlink(directory / name, archive_name)
    return read_links(directory, names)
