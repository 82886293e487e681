"""A restic repository as an offsite target: deduplicated, encrypted, checked, pruned.

Each push stores the archive's *members* (see :mod:`dr_lib.offsite.members`) as one restic
snapshot tagged ``k3s-dr``, ``archive:<name>``, ``sha256:<archive sha256>``, ``objects:<n>``
and ``bytes:<n>``, dated with the archive's own time. restic writes a snapshot only after all
its data is stored, so an interrupted push leaves no snapshot: nothing half-written is ever
listed. ``restic check`` runs after every push. Retention forgets snapshots by the shared
rotation rules, then prunes. The repository password comes from the target's password_file
(RESTIC_PASSWORD_FILE); S3 credentials from the usual AWS sources, passed to restic through
its environment only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib import proc
from dr_lib.archive import format as fmt
from dr_lib.config import OffsiteTargetConfig
from dr_lib.errors import DeadlineExceeded, RemoteMissing, ToolMissing
from dr_lib.offsite.members import extract_members, rebuild_archive
from dr_lib.offsite.model import GOOD, CopyRecord, LocalArchive, PushOutcome, RemoteCopy
from dr_lib.offsite.restic_errors import classify, credentials_env

TAG = "k3s-dr"
HOST = "k3s-dr"  # one host name: restic picks the previous snapshot as parent, so unchanged files are not re-read


def restic_binary() -> str:
    found = shutil.which("restic")
    if found is None:
        raise ToolMissing("restic is not installed: the restic offsite target needs it",
                          hint="apt-get install restic")
    return found


def _tags(snapshot: Mapping[str, Any]) -> dict[str, str]:
    return dict(tag.split(":", 1) for tag in snapshot.get("tags") or [] if ":" in tag)


class ResticTarget:
    kind = "restic"

    def __init__(self, name: str, config: OffsiteTargetConfig, *, work_dir: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.config = config
        self.binary = restic_binary()
        self.work_dir = work_dir
        self._extra_env = dict(env or {})
        self.where = config.repository
        self._exists = False  # set once the repository answered: skips a restic run per push

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env |= credentials_env(self.config) | self._extra_env
        env |= {"RESTIC_REPOSITORY": self.config.repository, "RESTIC_PASSWORD_FILE": self.config.password_file,
                "TZ": "UTC"}
        return env

    def run(self, args: Sequence[str], deadline: float, *, cwd: Path | None = None, doing: str) -> str:
        """Run restic; its stdout, or a DRError naming what failed (never the password or keys)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"offsite target {self.name!r}: the deadline passed before {doing}")
        try:
            result = proc.run([self.binary, *args], timeout=remaining, env=self._env(), inherit_env=False, cwd=cwd,
                              check=False)
        except DeadlineExceeded:
            raise DeadlineExceeded(f"offsite target {self.name!r}: restic did not finish {doing} in time",
                                   hint="raise the target's timeout") from None
        if result.returncode != 0:
            raise classify(result.stderr, target=self.name, where=self.where, doing=doing)
        return result.stdout

    def ensure_repository(self, deadline: float) -> bool:
        """True when the repository had to be created (first push)."""
        if self._exists:
            return False
        try:
            self.run(["cat", "config"], deadline, doing="open the repository")
        except RemoteMissing:
            self.run(["init"], deadline, doing="create the repository")
            return True
        return False

    def snapshots(self, deadline: float) -> list[dict[str, Any]]:
        out = self.run(["snapshots", "--json", "--tag", TAG], deadline, doing="list snapshots")
        self._exists = True
        return list(json.loads(out or "[]"))

    def list_copies(self, deadline: float | None = None) -> list[RemoteCopy]:
        deadline = deadline if deadline is not None else time.monotonic() + 300
        copies = []
        for snapshot in self.snapshots(deadline):
            tags = _tags(snapshot)
            archive = tags.get("archive", "")
            if fmt.archive_time(archive) is None or "sha256" not in tags:
                continue
            size = int(tags.get("bytes", "0"))
            record = CopyRecord(archive, archive, tags["sha256"], size, tags["sha256"], size,
                                int(tags.get("objects", "0")), {"scheme": "restic"}, str(snapshot.get("time", "")))
            copies.append(RemoteCopy(self.name, archive, str(snapshot["id"]), size, GOOD, record))
        copies.sort(key=lambda c: c.archive, reverse=True)
        return copies

    def push(self, archive: LocalArchive, deadline: float) -> PushOutcome:
        """Store the archive's members as one snapshot, then ``restic check``."""
        started = time.monotonic()
        initialized = self.ensure_repository(deadline)
        staging = Path(tempfile.mkdtemp(prefix="k3s-dr-restic-", dir=self.work_dir))
        try:
            members = staging / "archive"
            manifest = extract_members(archive.path, members)
            when = archive.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            tags = [TAG, f"archive:{archive.name}", f"sha256:{archive.sha256}", f"objects:{manifest.objects}",
                    f"bytes:{archive.bytes}"]
            args = ["backup", "--json", "--host", HOST, "--time", when, *[f"--tag={t}" for t in tags], "."]
            out = self.run(args, deadline, cwd=members, doing=f"back up {archive.name}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        summary: dict[str, Any] = next((json.loads(line) for line in out.splitlines()
                        if line.startswith("{") and '"summary"' in line), {})
        self.run(["check"], deadline, doing="check the repository")
        snapshot = str(summary.get("snapshot_id", ""))
        if not any(str(s["id"]).startswith(snapshot) for s in self.snapshots(deadline)) or not snapshot:
            raise RemoteMissing(f"offsite target {self.name!r}: restic reported snapshot {snapshot!r}, "
                                "which the repository does not list")
        added = int(summary.get("data_added", 0))
        return PushOutcome(self.name, self.kind, archive.name, snapshot, "pushed", added, added,
                           time.monotonic() - started, True,
                           {"initialized": initialized, "checked": True, "files": summary.get("total_files_processed"),
                            "data_added_uncompressed": added})

    def debris(self, copies: list[RemoteCopy], now: datetime) -> list[RemoteCopy]:
        return []  # restic writes a snapshot last: an interrupted push leaves only unreferenced data, pruned later

    def fetch(self, copy: RemoteCopy, directory: Path, deadline: float) -> Path:
        """Restore the snapshot and rebuild the archive into ``directory``."""
        staging = Path(tempfile.mkdtemp(prefix="k3s-dr-restic-", dir=self.work_dir))
        try:
            self.run(["restore", copy.ref, "--target", str(staging)], deadline, doing=f"restore {copy.archive}")
            return rebuild_archive(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def delete_many(self, copies: Sequence[RemoteCopy], deadline: float) -> None:
        if copies:
            self.run(["forget", "--prune", *[c.ref for c in copies]], deadline, doing="forget and prune")

    def stats(self, deadline: float) -> dict[str, Any]:
        out = self.run(["stats", "--json", "--mode", "raw-data"], deadline, doing="read repository statistics")
        return dict(json.loads(out))
