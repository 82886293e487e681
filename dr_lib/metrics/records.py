"""What each run leaves for the metrics: small values of our own, and the state that keeps the latest.

The CLI turns a backup, restore, auto-restore decision or drill result into one of these
records and calls ``dr_lib.metrics.record_*`` (features of the same layer never import each
other, so these types, not the features' own results, cross the boundary). :class:`State` is
the JSON state file: the latest record of each kind, so every writer emits the full set.
Times are epoch seconds (what Prometheus wants); ``None`` means never.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

STATE_FORMAT = "k3s-dr-metrics-state"
STATE_VERSION = 1

BACKUP_OK = "success"
BACKUP_NOT_PROMOTED = "not_promoted"
BACKUP_FAILED = "failed"
BACKUP_STATUSES = (BACKUP_OK, BACKUP_NOT_PROMOTED, BACKUP_FAILED)

RESTORE_RESULTS = ("created", "updated", "unchanged", "skipped", "failed")
DECISIONS = ("restore", "no_restore", "refused")  # refused: the snapshot was not trusted or not intact

T = TypeVar("T")


@dataclass(frozen=True)
class BackupRecord:
    at: float  # when the run ended
    status: str  # one of BACKUP_STATUSES
    seconds: float | None = None
    archive: str = ""
    objects: int = 0
    kinds: Mapping[str, int] = field(default_factory=dict)
    bytes: int = 0
    verified: bool = False
    datastore: bool = False
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == BACKUP_OK


@dataclass(frozen=True)
class RestoreRecord:
    at: float
    complete: bool
    outcome: str  # complete | partial | failed (the ledger's word)
    seconds: float
    counts: Mapping[str, int] = field(default_factory=dict)
    archive: str = ""
    auto: bool = False


@dataclass(frozen=True)
class DecisionRecord:
    at: float
    restore: bool
    reason: str = ""
    refused: bool = False  # the snapshot was refused (outside backup.dir, unverified, changed): no decision on loss

    @property
    def label(self) -> str:
        return "refused" if self.refused else "restore" if self.restore else "no_restore"


@dataclass(frozen=True)
class DrillRecord:
    at: float
    passed: bool
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rto_target_seconds: float | None = None
    rpo_target_seconds: float | None = None
    drill_id: str = ""
    failed_step: str = ""
    source: str = ""  # "": `k3s-dr drill` on this host; else the evidence file of a drill run elsewhere (CI)


@dataclass(frozen=True)
class PushRecord:
    """One offsite push to one target (``k3s-dr push`` or the push after a backup)."""

    at: float
    ok: bool
    seconds: float = 0.0
    bytes_sent: int = 0  # uploaded (restic: new data); 0 when a good copy was already there
    stored_bytes: int = 0
    remote_copies: int | None = None  # good copies on the target afterwards; None: unknown
    archive: str = ""
    trigger: str = "manual"  # manual | backup
    error: str = ""


@dataclass(frozen=True)
class State:
    """The latest of everything. ``last_backup_success`` survives a later failure: the age of the
    newest good backup is what matters when the directory cannot be read."""

    backup: BackupRecord | None = None
    last_backup_success: BackupRecord | None = None
    restore: RestoreRecord | None = None
    decision: DecisionRecord | None = None
    decisions: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))
    drill: DrillRecord | None = None
    pushes: Mapping[str, PushRecord] = field(default_factory=dict)  # per offsite target: the last push
    last_push_success: Mapping[str, PushRecord] = field(default_factory=dict)

    def with_backup(self, record: BackupRecord) -> State:
        success = record if record.succeeded else self.last_backup_success
        return replace(self, backup=record, last_backup_success=success)

    def with_restore(self, record: RestoreRecord) -> State:
        return replace(self, restore=record)

    def with_decision(self, record: DecisionRecord) -> State:
        counts = {name: int(self.decisions.get(name, 0)) for name in DECISIONS}
        counts[record.label] += 1
        return replace(self, decision=record, decisions=counts)

    def with_drill(self, record: DrillRecord) -> State:
        return replace(self, drill=record)

    def with_push(self, target: str, record: PushRecord) -> State:
        successes = {**self.last_push_success, **({target: record} if record.ok else {})}
        return replace(self, pushes={**self.pushes, target: record}, last_push_success=successes)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return None if value is None else asdict(value)

        return {"format": STATE_FORMAT, "version": STATE_VERSION, "backup": plain(self.backup),
                "last_backup_success": plain(self.last_backup_success), "restore": plain(self.restore),
                "decision": plain(self.decision), "decisions": dict(self.decisions), "drill": plain(self.drill),
                "pushes": {t: asdict(r) for t, r in self.pushes.items()},
                "last_push_success": {t: asdict(r) for t, r in self.last_push_success.items()}}

    @classmethod
    def from_dict(cls, data: Any) -> State:
        """Raises ValueError or TypeError when ``data`` is not a state this version wrote."""
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a k3s-dr metrics state (no 'format': 'k3s-dr-metrics-state')")
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"metrics state version {data.get('version')!r}; this k3s-dr reads {STATE_VERSION}")
        decisions = data.get("decisions") or {}
        if not isinstance(decisions, Mapping):
            raise TypeError("'decisions' is not a mapping")
        return cls(
            backup=_load(BackupRecord, data.get("backup")),
            last_backup_success=_load(BackupRecord, data.get("last_backup_success")),
            restore=_load(RestoreRecord, data.get("restore")),
            decision=_load(DecisionRecord, data.get("decision")),
            decisions={name: int(decisions.get(name, 0)) for name in DECISIONS},
            drill=_load(DrillRecord, data.get("drill")),
            pushes=_load_each(PushRecord, data.get("pushes")),  # absent in states written before offsite
            last_push_success=_load_each(PushRecord, data.get("last_push_success")),
        )


def _load(cls: type[T], raw: Any) -> T | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise TypeError(f"{cls.__name__} is not a mapping")
    try:
        record = cls(**raw)
    except TypeError as exc:
        raise TypeError(f"{cls.__name__}: {exc}") from None
    hints = typing.get_type_hints(cls)
    for name, value in raw.items():
        if not _fits(value, hints[name]):
            raise TypeError(f"{cls.__name__}.{name} = {value!r} is not a {hints[name]}")
    return record


def _load_each(cls: type[T], raw: Any) -> dict[str, T]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TypeError(f"{cls.__name__} per target is not a mapping")
    loaded = {str(name): _load(cls, value) for name, value in raw.items()}
    return {name: value for name, value in loaded.items() if value is not None}


def _fits(value: Any, hint: Any) -> bool:
    """A hand-edited or damaged state must not turn into a scrape that fails later."""
    for option in typing.get_args(hint) if typing.get_origin(hint) is types.UnionType else (hint,):
        origin = typing.get_origin(option) or option
        if value is None and option is type(None):
            return True
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if origin in (bool, str) and isinstance(value, origin):
            return True
        if origin is Mapping and isinstance(value, Mapping):
            return all(isinstance(k, str) and _fits(v, int) for k, v in value.items())
    return False
