"""The restore's journal: its ledger written as it goes, so a killed restore still leaves one.

``restore-<UTC>.journal.jsonl`` beside the final ledger, JSON lines, each appended and fsynced:

* a header — the journal's format, the archive and its sha256, policy, dry run, start, the final
  ledger's file name, how many objects the plan holds and what it left out (with the rule);
* ``entries`` lines as objects complete (a few dozen per line), with the seconds since the start;
  the applier starts an object only while fewer than 256 started ones are not yet in the journal;
* an ``interrupted`` line when a signal stopped the applier.

At the end the final ledger (its format unchanged, ``interrupted`` added when it was) is written
atomically and the journal removed. A journal without its final ledger is what SIGKILL or a
power cut leaves: the next restore (under the lock) turns it into a final ledger marked
interrupted, with every object the journal names. Objects applied but named nowhere are at most
256 (``apply.JOURNAL_WINDOW``). While its restore runs, a journal is locked (``flock``), so
nobody recovers a live one. A torn last line (the process died while writing it) is ignored.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.atomic import fsync_dir
from dr_lib.errors import EnvironmentProblem
from dr_lib.restore.files import write_json_atomic
from dr_lib.restore.ledger import Entry, Ledger
from dr_lib.restore.plan import LeftOut, ObjectKey

log = logging.getLogger(__name__)

FORMAT = "k3s-dr-restore-journal"
VERSION = 1
SUFFIX = ".journal.jsonl"
MAX_LINE_BYTES = 64 * 1024 * 1024  # one batch of entries; a longer line is not one we wrote
KILLED = ("the restore process ended before it finished (killed, or the machine stopped); this ledger was "
          "recovered from its journal")


def journal_path_for(ledger_path: Path) -> Path:
    return ledger_path.with_name(ledger_path.name.removesuffix(".json") + SUFFIX)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Journal:
    """An open journal: lines appended and fsynced one at a time; locked while open."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd
        self.done = False  # the final ledger is on disk: the journal may go

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Journal:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW,
                         0o600)  # 0600: ledgers name every object restored, Secrets included
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the restore journal {str(path)!r}: {exc.strerror or exc}",
                                     hint="set restore.state_dir to a writable directory") from None
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file: nobody else holds it
        journal = cls(path, fd)
        journal.append({"journal": FORMAT, "version": VERSION, **header})
        fsync_dir(path.parent)
        return journal

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        try:
            _write_all(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot append to the restore journal {str(self.path)!r}: "
                                     f"{exc.strerror or exc}") from None

    def batch(self, tier: str, entries: list[Entry], seconds: float) -> None:
        if entries:
            self.append({"tier": tier, "entries": [entry.to_dict() for entry in entries], "seconds": round(seconds, 3)})

    def close(self) -> None:
        """Release it; remove it once the final ledger is durable (``done``), else leave it to be recovered."""
        with contextlib.suppress(OSError):
            if self.done:
                self.path.unlink()
        os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def header(ledger: Ledger, ledger_path: Path, planned: int) -> dict[str, Any]:
    left_out = ledger.to_dict()["left_out"]
    return {"ledger": ledger_path.name, "archive": ledger.archive, "archive_sha256": ledger.archive_sha256,
            "dry_run": ledger.dry_run, "policy": ledger.policy, "started": ledger.started, "planned": planned,
            "left_out": left_out}


@dataclass
class JournalContent:
    header: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: dict[str, Any] | None = None


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for raw in handle:
            if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
                return  # torn (the process died writing it) or not ours: nothing after it counts
            try:
                record = json.loads(raw)
            except ValueError:
                return
            if not isinstance(record, dict):
                return
            yield record


def read_journal(path: Path) -> JournalContent:
    """What a journal names; ValueError when it is not a restore journal."""
    records = _records(path)
    first = next(records, None)
    if first is None or first.get("journal") != FORMAT or first.get("version") != VERSION:
        raise ValueError(f"{path} is not a k3s-dr restore journal (version {VERSION})")
    content = JournalContent(first)
    for record in records:
        if "entries" in record:
            content.entries.extend(Entry.from_dict(item) for item in record["entries"])
            content.seconds = float(record.get("seconds") or content.seconds)
        elif isinstance(record.get("interrupted"), dict):
            content.interrupted = record["interrupted"]
    return content


def interruption(how: str | None, planned: int, applied: int) -> dict[str, Any]:
    """The ledger's ``interrupted`` value: which signal (None: killed, recovered), what was never attempted."""
    reason = f"{how} stopped the restore between writes" if how else KILLED
    return {"signal": how, "reason": reason, "attempted": applied, "not_attempted": max(0, planned - applied)}


def ledger_from_journal(content: JournalContent) -> Ledger:
    head = content.header
    left_out = [LeftOut(ObjectKey(str(i["resource"]), str(i["namespace"]), str(i["name"])), str(i["kind"]),
                        str(i["reason"])) for i in head.get("left_out") or []]
    planned = int(head.get("planned") or 0)
    ledger = Ledger(str(head.get("archive", "")), bool(head.get("dry_run")), str(head.get("policy", "")),
                    str(head.get("started", "")), content.entries, left_out, content.seconds,
                    str(head.get("archive_sha256", "")))
    ledger.interrupted = content.interrupted or interruption(None, planned, len(content.entries))
    return ledger


def _unlocked(path: Path) -> int | None:
    """An fd holding the journal's lock, or None while its restore still runs (or it cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def recover_journals(directory: Path) -> list[Path]:
    """Turn every journal whose restore is gone into its final ledger (marked interrupted); the ledgers written."""
    recovered: list[Path] = []
    for path in sorted(directory.glob("restore-*" + SUFFIX)) if directory.is_dir() else []:
        fd = _unlocked(path)
        if fd is None:
            continue
        try:
            ledger_path = path.with_name(path.name.removesuffix(SUFFIX) + ".json")
            if not ledger_path.exists():
                content = read_journal(path)
                write_json_atomic(ledger_path, ledger_from_journal(content).to_dict(), indent=None)
                recovered.append(ledger_path)
                log.warning("restore ledger %s recovered from its journal: %d objects applied before the restore "
                            "ended unfinished", ledger_path, len(content.entries))
            path.unlink()
        except (OSError, ValueError) as exc:
            log.warning("restore journal %s left as it is: %s", path, exc)
        finally:
            os.close(fd)
    return recovered
