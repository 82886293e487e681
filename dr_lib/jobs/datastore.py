"""The datastore restore job (``restore --datastore``): the k3s server's snapshot and token back.

Under the backup lock: stop the k3s unit, set the current files aside, put the archive's back,
start it. Recorded in the metrics as a complete restore (a failed one as a failed restore).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive import exclusive_lock
from dr_lib.clock import utc_now
from dr_lib.config import Config
from dr_lib.errors import DRError
from dr_lib.jobs import record
from dr_lib.jobs.offsite import archive_for_restore
from dr_lib.jobs.report import Reporter
from dr_lib.jobs.restore_options import resolve_archive
from dr_lib.restore.datastore import DatastoreResult, DatastoreTarget, SystemdK3s, restore_datastore
from dr_lib.signing.policy import signature_policy


@dataclass(frozen=True)
class DatastoreOptions:
    archive: str | None = None  # default: the snapshot link in backup.dir
    from_remote: str | None = None  # REMOTE[:NAME]: pull the archive first
    identity: str | None = None  # age identity for --from and ARCHIVE.age
    verify_keys: tuple[str, ...] = ()  # default: config trust.verify_keys
    allow_unsigned: bool = False


@dataclass(frozen=True)
class DatastoreRestored:
    result: DatastoreResult
    archive: Path

    def to_dict(self) -> dict[str, Any]:
        return {"datastore": self.result.to_dict(), "archive": str(self.archive.resolve())}

    @property
    def exit_error(self) -> DRError | None:
        return None  # a datastore restore that did not complete raised its error


def restore_server_datastore(config: Config, options: DatastoreOptions, reporter: Reporter) -> DatastoreRestored:
    trust = signature_policy(config.trust, options.verify_keys, allow_unsigned=options.allow_unsigned)
    archive = resolve_archive(config, archive_for_restore(config, options.archive, options.from_remote,
                                                          options.identity, reporter, trust=trust))
    data_dir = Path(config.backup.k3s_data_dir)
    try:
        with exclusive_lock(config.backup.lock_file, "restore the datastore"):
            result = restore_datastore(archive, DatastoreTarget(data_dir), SystemdK3s(config.units.k3s, data_dir),
                                       now=utc_now(), trust=trust)
    except DRError as exc:
        record.restore_failed(config, exc, reporter)
        raise
    record.datastore_restore_done(config, archive, result.seconds, reporter)
    return DatastoreRestored(result, archive)
