"""Restore's warning: this archive holds far fewer user objects than the one before it in backup.dir.

Restoring the backup of a wiped cluster "succeeds" and brings nothing back — the runbook once
printed "recovered" after exactly that. The archive before it — the newest one in the backup
directory named after an earlier time that holds user objects (a run of backups taken after the
wipe holds none, and must not hide it) — is the operator's likely intent. The shrink guard keeps
such backups from being promoted; this warning covers archives named by hand. A warning, not a
refusal: the empty archive may be the truth.
"""

from __future__ import annotations

from pathlib import Path

from dr_lib.archive import VerifyResult
from dr_lib.archive.usercount import previous_with_user_objects, user_object_drop


def fewer_user_objects(verified: VerifyResult, backup_dir: Path | None, threshold: float) -> str | None:
    """The warning, or None. ``threshold``: the share of the previous archive's user objects that must
    be missing (``restore.shrink_warn_threshold``); an archive with none after one with some always warns."""
    if backup_dir is None:
        return None
    found = previous_with_user_objects(backup_dir, verified.manifest.created_at, besides=verified.path)
    if found is None:
        return None
    previous, before = found
    now = verified.user_objects
    drop = user_object_drop(before, now)
    if drop <= 0 or (now > 0 and drop < threshold):
        return None
    return (f"archive {verified.path.name} holds {now} user objects, {drop:.0%} fewer than {previous.name} before "
            f"it ({before}): is it a backup of an emptied cluster? To bring those objects back, restore "
            f"{previous} (restore.shrink_warn_threshold {threshold:.0%})")
