"""The archive a drill of a real archive restores: found, copied privately, verified.

``--archive PATH|latest`` names a file (``latest``: the latest link in ``backup.dir``, which must
point inside that directory); ``--from REMOTE[:NAME]`` pulls one with ``k3s-dr pull`` into
``backup.dir``, the very code ``restore --from`` runs (``fetch_archive``). Either way the drill
restores its own copy in its private work directory (0700, removed at the end: the archive holds
Secrets), so the operator's file is only read, never changed (no sidecar refreshed beside it)
and cannot change under the drill; a ``.age`` archive is decrypted into that copy. The application
data a format-2 archive references stays in the data repository beside the archive, which the
drill's restore reads through a link beside its copy (:func:`link_data_repository`).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.archive import VerifyResult, object_counts, verify_archive
from dr_lib.archive.fsutil import ensure_private_dir
from dr_lib.datarepo.repository import REPOSITORY_DIR, DataRepository
from dr_lib.drill.timeline import iso
from dr_lib.errors import IntegrityError, UsageError
from dr_lib.offsite.crypto import decrypt_into, is_encrypted
from dr_lib.signing.policy import policy_of

LATEST = "latest"
ACCEPTED = "an archive file (k3s-dr-*.tar.gz, or .tar.gz.age with offsite.identity_file) or 'latest'"


def _regular_file(path: Path, shown: str) -> Path:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"--archive {shown!r}: no such file: accepted is {ACCEPTED}") from None
    except OSError as exc:
        raise UsageError(f"--archive {shown!r} cannot be read ({exc.strerror}): accepted is {ACCEPTED}") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"--archive {shown!r} is not a regular file: accepted is {ACCEPTED}")
    return path


def resolve_archive_option(value: str, backup_dir: str, latest_link: str) -> Path:
    """``--archive``'s value as the archive file it names (symbolic links resolved)."""
    if value != LATEST:
        return _regular_file(Path(value).expanduser().resolve(), value)
    directory = Path(backup_dir).resolve()
    link = Path(backup_dir) / latest_link
    if not link.exists():
        raise UsageError(f"--archive latest: {link} does not exist: accepted is a directory where k3s-dr backup "
                         "promoted an archive (backup.dir), or an archive's path")
    target = link.resolve()
    if target.parent != directory:
        raise UsageError(f"--archive latest: {link} points outside {directory} ({target}): refused, accepted is a "
                         "link to an archive in backup.dir")
    return _regular_file(target, f"latest ({target})")


def split_remote(value: str) -> tuple[str | None, str | None]:
    """``REMOTE[:NAME]`` as ``restore --from`` reads it: an empty part means any target / the newest copy."""
    target, _sep, name = value.partition(":")
    return target or None, name or None


def pull_args(value: str) -> list[str]:
    """``k3s-dr pull`` for ``--from REMOTE[:NAME]``: decrypted and verified into backup.dir, like ``restore --from``.
    Each part stays a value whatever it holds (``--target=…``, the name after ``--``), never an option of pull."""
    target, name = split_remote(value)
    return ["pull", "--json", *([f"--target={target}"] if target else []), *(["--", name] if name else [])]


def private_copy(source: Path, work_dir: Path, identity_file: Path | None) -> Path:
    """The drill's own copy of ``source`` in ``work_dir/archive`` (0600), decrypted when it is ``.age``."""
    directory = work_dir / "archive"
    ensure_private_dir(directory)
    if is_encrypted(source):
        copy = decrypt_into(source, directory, identity_file,
                            hint="set offsite.identity_file (K3S_DR_OFFSITE_IDENTITY_FILE)")
    else:
        copy = directory / source.name
        _copy_regular_file(source, copy)
    copy.chmod(0o600)
    return copy


def link_data_repository(source: Path, copy: Path, *, referenced: bool) -> Path | None:
    """Where the drill's restore of ``copy`` finds the repository data the archive references (format 2):
    ``copy``'s directory gets a link named ``data`` to the data repository beside ``source`` (the operator's
    ``backup.dir/data``, or the one the pull filled), resolved. The restore only reads it — ``snapshots``,
    ``ls`` and ``dump`` with ``--no-lock``, no cache — so the operator's repository is neither written nor
    locked nor pruned, and is not copied (it may be large). None when the archive references no such data."""
    if not referenced:
        return None
    repository = DataRepository(source.parent)
    if not repository.exists():
        raise IntegrityError(f"archive {source.name} references application data in a data repository, and "
                             f"{repository.path} is none (no config file)",
                             hint="drill the archive where it lies beside its data/ (backup.dir), or pull it with "
                                  "its data (--from)")
    link = copy.parent / REPOSITORY_DIR
    try:
        link.symlink_to(repository.path.resolve(), target_is_directory=True)
    except OSError as exc:
        raise UsageError(f"--archive {str(source)!r}: the drill cannot link its data repository at {link} "
                         f"({exc.strerror}): accepted is {ACCEPTED}") from None
    return link


def _copy_regular_file(source: Path, copy: Path) -> None:
    """Copy what ``source`` is when opened: never through a link planted since it was resolved, never a
    FIFO or device (a read that would block or never end)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(source, flags)
    except OSError as exc:
        raise UsageError(f"--archive {str(source)!r} cannot be opened as a file ({exc.strerror}): accepted is "
                         f"{ACCEPTED}") from None
    with os.fdopen(descriptor, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise UsageError(f"--archive {str(source)!r} is not a regular file: accepted is {ACCEPTED}")
        os.set_blocking(descriptor, True)
        with copy.open("xb") as writer:
            shutil.copyfileobj(reader, writer, 1024 * 1024)


def verify_input(copy: Path, verify_keys: Sequence[Path] = ()) -> VerifyResult:
    """The one check of an archive drill's input, the one ``k3s-dr verify`` and ``restore`` make
    (:func:`dr_lib.archive.verify_archive`: signature, tar safety, manifest, every sha256, every
    document). With verify keys (trust.verify_keys) an archive not signed by one of them is refused
    before its manifest is parsed, as ``restore`` refuses it; the signer goes to :attr:`ArchiveInput.signer`."""
    return verify_archive(copy, policy_of(verify_keys))


@dataclass
class ArchiveInput:
    """The archive of an archive drill, as the report names it."""

    given: str  # what the operator named: the path, or REMOTE[:NAME]
    path: Path  # the archive's own file (as given, or where the pull put it)
    copy: Path  # the drill's private copy, which it restores
    verified: VerifyResult
    obtained: str
    encrypted: bool = False
    signer: str | None = None  # who signed it, when archives are signed and a verify key is configured
    pull: dict[str, Any] | None = None  # `k3s-dr pull --json` of --from
    data_kinds: set[str] = field(default_factory=set)  # the data members' kinds restored and checked here
    data_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return self.verified.sha256

    def source_cluster(self) -> dict[str, Any]:
        return self.verified.manifest.cluster.to_dict()

    def to_json(self) -> dict[str, Any]:
        manifest = self.verified.manifest
        return {"name": self.path.name, "path": str(self.path), "given": self.given, "obtained": self.obtained,
                "sha256": self.sha256, "bytes": self.verified.bytes, "encrypted": self.encrypted,
                "created": iso(manifest.created_at), "tool_version": manifest.tool_version,
                "objects": manifest.objects, "kinds": object_counts(manifest), "datastore": manifest.datastore
                is not None, "data_members": len(manifest.data), "source_cluster": self.source_cluster(),
                "signer": self.signer, "pull": self.pull,
                "data_checked": sorted(self.data_kinds), "data_checks": self.data_results}
