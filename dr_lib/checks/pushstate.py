"""The record of the last offsite push per target: what DR-OFFSITE-001..003 judge.

Every push (``k3s-dr push`` and the automatic push after a backup) rewrites
``<restore.state_dir>/offsite-pushes.json`` atomically (:mod:`dr_lib.offsite.history`); the suite
reads it on the host under test with the probe and parses it here. The controls judge this record,
never the remote itself: the suite holds no credentials and needs no network. The format lives
here, at the lower layer, so that the writer and the reader cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PUSH_STATE_NAME = "offsite-pushes.json"
PUSH_STATE_FORMAT = "k3s-dr-offsite-pushes"
PUSH_STATE_VERSION = 1
TRIGGERS = ("manual", "backup")  # `k3s-dr push`, or the push a backup run made of its own archive
RETENTION_STATES = ("applied", "failed", "skipped")


@dataclass(frozen=True)
class PushAttempt:
    """One push to one target, as the push saw it. Times are epoch seconds."""

    at: float  # when the attempt ended
    trigger: str  # one of TRIGGERS
    ok: bool
    archive: str  # the archive's name, k3s-dr-<UTC time>.tar.gz (sorts by time)
    type: str = ""  # s3 | restic
    action: str = ""  # pushed | present (a good copy was already there) | "" (failed)
    ref: str = ""  # object key or restic snapshot id
    bytes_sent: int = 0
    stored_bytes: int = 0
    seconds: float = 0.0
    verified: bool = False  # read back and matched (S3), or `restic check` passed
    encrypted: bool = False
    remote_good: int | None = None  # good copies on the target afterwards
    retention: str = "skipped"  # one of RETENTION_STATES
    retention_error: str = ""
    error: str = ""
    exit_code: int | None = None
    backup_ok: bool | None = None  # trigger "backup": whether the backup run itself fully succeeded


@dataclass(frozen=True)
class TargetPushes:
    last: PushAttempt | None = None
    last_success: PushAttempt | None = None  # survives later failures: what is offsite is what matters

    def with_attempt(self, attempt: PushAttempt) -> TargetPushes:
        return replace(self, last=attempt, last_success=attempt if attempt.ok else self.last_success)


_TYPES: dict[str, tuple[type, ...]] = {"float": (int, float), "str": (str,), "bool": (bool,), "int": (int,),
                                       "int | None": (int, type(None)), "bool | None": (bool, type(None))}


def _attempt(raw: Any, where: str) -> PushAttempt | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where} is not a mapping")
    values: dict[str, Any] = {}
    for spec in fields(PushAttempt):
        if spec.name not in raw:
            continue
        value = raw[spec.name]
        accepted = _TYPES[str(spec.type)]
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise TypeError(f"{where}.{spec.name} = {value!r} is not a {spec.type}")
        values[spec.name] = value
    try:
        return PushAttempt(**values)
    except TypeError as exc:  # a required field is missing
        raise TypeError(f"{where}: {exc}") from None


def parse_push_state(text: str) -> dict[str, TargetPushes]:
    """The record per target. Raises ValueError or TypeError when ``text`` is not a record this version wrote."""
    data = json.loads(text)
    if not isinstance(data, Mapping) or data.get("format") != PUSH_STATE_FORMAT:
        raise ValueError(f"not a k3s-dr offsite push record (no 'format': {PUSH_STATE_FORMAT!r})")
    if data.get("version") != PUSH_STATE_VERSION:
        raise ValueError(f"offsite push record version {data.get('version')!r}; this k3s-dr reads "
                         f"{PUSH_STATE_VERSION}")
    targets = data.get("targets") or {}
    if not isinstance(targets, Mapping):
        raise TypeError("'targets' is not a mapping")
    parsed: dict[str, TargetPushes] = {}
    for name, entry in targets.items():
        if not isinstance(entry, Mapping):
            raise TypeError(f"targets.{name} is not a mapping")
        parsed[str(name)] = TargetPushes(_attempt(entry.get("last"), f"targets.{name}.last"),
                                         _attempt(entry.get("last_success"), f"targets.{name}.last_success"))
    return parsed


def render_push_state(targets: Mapping[str, TargetPushes]) -> str:
    def plain(attempt: PushAttempt | None) -> dict[str, Any] | None:
        return None if attempt is None else asdict(attempt)

    body = {"format": PUSH_STATE_FORMAT, "version": PUSH_STATE_VERSION,
            "targets": {name: {"last": plain(t.last), "last_success": plain(t.last_success)}
                        for name, t in sorted(targets.items())}}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"
