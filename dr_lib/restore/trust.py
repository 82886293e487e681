"""Boot-time restore trusts only what k3s-dr made: the snapshot link's target, checked before anything else.

``restore --auto`` runs as root, unattended, at every boot, and restores whatever the snapshot
link names. Whoever could plant a link or a file would own the cluster at the next boot, so the
target must be an archive k3s-dr wrote and verified in the backup directory: after resolving
every link, a regular file named like our archives directly in ``backup.dir``, with a
verification record (the ``.verified.json`` sidecar) for exactly this file — same name, same
size, and (checked by the caller against the full verification, which hashes the file) the same
sha256. Each refusal names the path and the reason; the runner records it as the decision.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dr_lib.archive import format as fmt
from dr_lib.archive.sidecar import Sidecar, read_sidecar, sidecar_path
from dr_lib.errors import SnapshotRefused


@dataclass(frozen=True)
class TrustedSnapshot:
    path: Path  # the archive itself, every link resolved
    sidecar: Sidecar  # its verification record: the sha256 the archive must still have


@dataclass(frozen=True)
class _Target:
    link: Path
    path: Path
    directory: Path
    st: os.stat_result


def _outside(t: _Target) -> str | None:
    if t.path.parent != t.directory:
        return (f"{t.link} resolves to {t.path}, outside the backup directory {t.directory}: auto-restore "
                "restores only archives k3s-dr wrote there")
    return None


def _not_regular(t: _Target) -> str | None:
    return None if stat.S_ISREG(t.st.st_mode) else f"{t.link} resolves to {t.path}, which is not a regular file"


def _not_named_like_ours(t: _Target) -> str | None:
    if fmt.archive_time(t.path.name) is None:
        return f"{t.link} resolves to {t.path.name}, which is not named like a k3s-dr archive (k3s-dr-<UTC>.tar.gz)"
    return None


# Checks on the target before its sidecar is read, in order; the first that fails refuses it.
_CHECKS: tuple[Callable[[_Target], str | None], ...] = (_outside, _not_regular, _not_named_like_ours)


def _sidecar_problem(target: _Target) -> tuple[str | None, Sidecar | None]:
    sidecar = read_sidecar(target.path)
    record = sidecar_path(target.path)
    if sidecar is None:
        return (f"{target.path.name} has no readable verification record ({record.name}): it was never verified "
                f"by k3s-dr (if you trust it: `k3s-dr verify {target.path}`)", None)
    if sidecar.archive != target.path.name:
        return f"the verification record {record.name} is for {sidecar.archive!r}, not {target.path.name}", None
    if sidecar.bytes != target.st.st_size:
        return (f"{target.path.name} is {target.st.st_size} bytes, its verification record says {sidecar.bytes}: "
                "it changed after it was verified", None)
    return None, sidecar


def trust_snapshot(link: Path, backup_dir: Path) -> TrustedSnapshot:
    """The archive ``link`` names, if auto-restore may trust it; else :class:`SnapshotRefused` saying why."""
    try:
        path = link.resolve(strict=True)
        directory = backup_dir.resolve(strict=True)
        target = _Target(link, path, directory, path.stat())
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop
        raise SnapshotRefused(f"{link} cannot be resolved to an archive: {getattr(exc, 'strerror', None) or exc}") \
            from None
    for check in _CHECKS:
        problem = check(target)
        if problem is not None:
            raise SnapshotRefused(problem)
    problem, sidecar = _sidecar_problem(target)
    if problem is not None or sidecar is None:
        raise SnapshotRefused(problem or f"{path.name}: no verification record")
    return TrustedSnapshot(path, sidecar)


def check_digest(trusted: TrustedSnapshot, sha256: str) -> None:
    """The full verification's sha256 must be the one recorded when k3s-dr verified the file."""
    if sha256 != trusted.sidecar.sha256:
        raise SnapshotRefused(f"{trusted.path.name}'s sha256 is not the one its verification record holds: it "
                              "changed after it was verified")
