"""The boot drill on a reference host, judged (pure: readings in, verdicts out).

The drill loses the cluster's state, reboots the host (``docker restart``) and reads what the
auto-restore unit did: its ``systemctl show`` properties, the decision it logged in the journal
and kept in its state file, and whether the user objects are back in the API server. Each boot
is judged by the rules below (data, each with its reason); the boot RTO is read off one clock.

One clock: Docker gives containers no time namespace, so systemd's ``*TimestampMonotonic``
values inside the host and ``time.monotonic()`` in the drill are the same CLOCK_MONOTONIC.
A reading that contradicts that (a boot before its own restart) drops the cross-clock numbers
instead of reporting a wrong RTO.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UNIT_PROPERTIES = ("ActiveState", "Result", "ConditionResult", "ConditionTimestampMonotonic", "ExecMainStatus",
                   "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic", "InvocationID")
MANAGER_PROPERTIES = ("UserspaceTimestampMonotonic", "FinishTimestampMonotonic")
K3S_PROPERTIES = ("ActiveEnterTimestampMonotonic",)

# The runner logs "auto-restore decision: restore — <reason>" or "... no restore — <reason>".
_DECISION_LINE = re.compile(r"auto-restore decision: (?P<verdict>restore|no restore) — (?P<reason>.+?)\s*$")


def parse_show(text: str) -> dict[str, str]:
    """``systemctl show -p A,B`` output (``A=value`` lines) as a dict."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def monotonic_seconds(value: str | None) -> float | None:
    """A systemd ``*TimestampMonotonic`` (µs; 0 = never) as seconds, or None."""
    if not value or not value.isdigit() or int(value) == 0:
        return None
    return int(value) / 1_000_000


@dataclass(frozen=True)
class UnitRun:
    """The auto-restore unit's last run as systemd reports it."""

    active_state: str
    result: str
    condition_result: str
    condition_at: float | None
    exit_status: int | None
    started_at: float | None
    exited_at: float | None
    invocation_id: str

    @classmethod
    def from_show(cls, props: dict[str, str]) -> UnitRun:
        status = props.get("ExecMainStatus", "")
        return cls(props.get("ActiveState", ""), props.get("Result", ""), props.get("ConditionResult", ""),
                   monotonic_seconds(props.get("ConditionTimestampMonotonic")),
                   int(status) if status.lstrip("-").isdigit() else None,
                   monotonic_seconds(props.get("ExecMainStartTimestampMonotonic")),
                   monotonic_seconds(props.get("ExecMainExitTimestampMonotonic")), props.get("InvocationID", ""))

    def to_json(self) -> dict[str, Any]:
        return {"ActiveState": self.active_state, "Result": self.result, "ConditionResult": self.condition_result,
                "ExecMainStatus": self.exit_status, "InvocationID": self.invocation_id}


@dataclass(frozen=True)
class Decision:
    restore: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"restore": self.restore, "reason": self.reason}


def journal_decisions(text: str) -> tuple[Decision, ...]:
    """The decisions the unit logged (its journal lines of one run)."""
    found = (_DECISION_LINE.search(line) for line in text.splitlines())
    return tuple(Decision(m["verdict"] == "restore", m["reason"]) for m in found if m)


def state_decision(state: Any) -> tuple[Decision | None, str]:
    """The newest decision kept in ``auto-restore.json`` and the boot id it was taken in."""
    decisions = state.get("decisions") if isinstance(state, dict) else None
    if not isinstance(decisions, list) or not decisions or not isinstance(decisions[-1], dict):
        return None, ""
    last = decisions[-1]
    return Decision(bool(last.get("restore")), str(last.get("reason", ""))), str(last.get("boot_id", ""))


@dataclass(frozen=True)
class BootClock:
    """One boot's moments, seconds on CLOCK_MONOTONIC (see the module's note)."""

    restart_called: float  # the drill asked Docker to restart the host
    init_started: float | None  # systemd (PID 1) started: the boot begins
    boot_finished: float | None  # systemd reached its default target: the boot is over
    k3s_ready: float | None  # k3s.service active (its API server answered /readyz)
    objects_seen: float | None  # the drill saw every user object back in the API server

    @property
    def consistent(self) -> bool:
        return self.init_started is not None and self.init_started >= self.restart_called


@dataclass(frozen=True)
class BootObservation:
    label: str
    expect_restore: bool
    clock: BootClock
    unit: UnitRun
    journal: tuple[Decision, ...]
    state: Decision | None
    state_boot_id: str
    objects_back: bool  # every user object of the snapshot present and equal after the boot
    unchanged: bool | None = None  # no restore expected: the objects kept their uid and resourceVersion


def _ran_this_boot(o: BootObservation) -> bool:
    at, boot = o.unit.condition_at, o.clock.init_started
    return at is not None and boot is not None and at >= boot


def _after_k3s(o: BootObservation) -> bool:
    started, ready = o.unit.started_at, o.clock.k3s_ready
    return started is not None and ready is not None and started >= ready


BOOT_RULES: tuple[tuple[str, Callable[[BootObservation], bool]], ...] = (
    ("the auto-restore unit ran during this boot (its condition was checked after init started)", _ran_this_boot),
    ("its ConditionPathExists held (ConditionResult=yes): the snapshot link exists at boot",
     lambda o: o.unit.condition_result == "yes"),
    ("it ran to the end (ActiveState=inactive, Result=success) with exit status 0",
     lambda o: o.unit.active_state == "inactive" and o.unit.result == "success" and o.unit.exit_status == 0),
    ("it started once k3s was ready (After=k3s.service; k3s is active when /readyz answers)", _after_k3s),
    ("its journal holds exactly one decision for this run", lambda o: len(o.journal) == 1),
    ("the decision is the expected one", lambda o: len(o.journal) == 1 and o.journal[0].restore == o.expect_restore),
    ("the state file kept the same decision", lambda o: len(o.journal) == 1 and o.state == o.journal[0]),
    ("every user object of the snapshot is in the API server after the boot", lambda o: o.objects_back),
    ("nothing was rewritten when no restore was due (same uid and resourceVersion)",
     lambda o: o.expect_restore or o.unchanged is not False),
)


def judge_boot(o: BootObservation) -> tuple[str, ...]:
    """The rules this boot broke, by reason; empty when the boot passed."""
    return tuple(reason for reason, holds in BOOT_RULES if not holds(o))


def _span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(max(0.0, end - start), 3)


def boot_times(o: BootObservation) -> dict[str, float | None]:
    """How long the boot took, and the boot RTO: from init's start until the objects were back."""
    clock, unit = o.clock, o.unit
    same_clock = clock.consistent
    restored = unit.exited_at if o.expect_restore and o.journal and o.journal[0].restore else None
    return {
        "shutdown_seconds": _span(clock.restart_called, clock.init_started) if same_clock else None,
        "boot_seconds": _span(clock.init_started, clock.boot_finished),
        "k3s_ready_seconds": _span(clock.init_started, clock.k3s_ready),
        "unit_seconds": _span(unit.started_at, unit.exited_at),
        "boot_rto_seconds": _span(clock.init_started, restored),
        "boot_to_seen_seconds": _span(clock.init_started, clock.objects_seen) if same_clock else None,
    }


def boot_json(o: BootObservation) -> dict[str, Any]:
    problems = judge_boot(o)
    return {
        "label": o.label, "expect_restore": o.expect_restore, "verdict": "fail" if problems else "pass",
        "problems": list(problems), "unit": o.unit.to_json(),
        "decision": o.journal[0].to_json() if len(o.journal) == 1 else None,
        "journal_decisions": [d.to_json() for d in o.journal], "state_decision": o.state and o.state.to_json(),
        "state_boot_id": o.state_boot_id, "objects_back": o.objects_back, "unchanged": o.unchanged,
        **boot_times(o),
    }


def drill_verdict(boots: list[BootObservation]) -> tuple[str, list[str]]:
    """pass when every boot passed and the boots had distinct identities (one restore per *boot*)."""
    reasons = [f"{o.label}: {problem}" for o in boots for problem in judge_boot(o)]
    ids = [o.state_boot_id for o in boots]
    if len(set(ids)) != len(ids):
        reasons.append(f"the auto-restore saw the same boot id across real boots: {ids}")
    return ("fail" if reasons or not boots else "pass"), reasons


EVIDENCE_FORMAT = "k3s-dr-boot-drill-evidence"
BOOT_RTO_DEFINITION = ("seconds from the start of init (PID 1) at the boot until the auto-restore unit exited "
                       "having restored the snapshot (systemd's own timestamps); boot_to_seen_seconds: until the "
                       "drill saw every user object back in the API server")


def evidence(host: dict[str, Any], backup: dict[str, Any], boots: list[BootObservation], *, started: str,
             finished: str, user_objects: int) -> dict[str, Any]:
    """The boot drill as one JSON document: which snapshot, every boot judged, the verdict."""
    verdict, reasons = drill_verdict(boots)
    restores = [boot_times(o)["boot_rto_seconds"] for o in boots if o.expect_restore]
    return {
        "format": EVIDENCE_FORMAT, "format_version": 1, "started": started, "finished": finished,
        "host": host, "verdict": verdict, "reasons": reasons,
        "backup": {key: backup.get(key) for key in ("archive", "sha256", "created", "objects", "promoted")},
        "user_objects": user_objects,
        "boot_rto_seconds": max((r for r in restores if r is not None), default=None),
        "definitions": {"boot_rto": BOOT_RTO_DEFINITION},
        "boots": [boot_json(o) for o in boots],
    }
