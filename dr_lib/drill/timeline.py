"""The drill's clock readings: steps, the phases inside them, and the two moments RTO spans.

Pure: every time is passed in. UTC datetimes say *when* (for auditors), seconds say *how long*
(from a monotonic clock, so a wall-clock jump during a drill cannot fake a good RTO).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

STEPS: tuple[tuple[str, str], ...] = (
    ("source", "bring up the source cluster and seed the application"),
    ("backup", "back up with k3s-dr backup"),
    ("destroy", "lose the cluster: a fresh empty target, or the namespaces wiped"),
    ("restore", "restore with k3s-dr restore --wait"),
    ("verify", "every backed-up object back and equal; workloads Ready, claims Bound, endpoints"),
    ("judge", "measured RTO and RPO against the targets"),
)
STEP_NAMES: tuple[str, ...] = tuple(name for name, _ in STEPS)
STEP_TITLES: dict[str, str] = dict(STEPS)

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, to the millisecond: the one time format of every report file."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def step_number(name: str) -> int:
    return STEP_NAMES.index(name) + 1


def step_label(name: str) -> str:
    return f"{step_number(name)} {name}"


@dataclass(frozen=True)
class Phase:
    """A timed piece of work inside a step (e.g. the restore's apply or its wait)."""

    step: str
    name: str
    started: datetime
    seconds: float
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "phase": self.name, "started": iso(self.started),
                "seconds": round(self.seconds, 3), "detail": self.detail}


@dataclass(frozen=True)
class StepOutcome:
    name: str
    status: str  # passed | failed | skipped
    started: datetime
    seconds: float
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {"step": self.name, "number": step_number(self.name), "title": STEP_TITLES[self.name],
                "status": self.status, "started": iso(self.started), "seconds": round(self.seconds, 3),
                "message": self.message}


@dataclass
class Timeline:
    """Everything that happened, in order. Appended to by the steps; read by judge and report."""

    started: datetime
    steps: list[StepOutcome] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    # RTO runs from the loss (``disaster``) until the application is proved back (``recovered``);
    # RPO from the backup's creation to the loss: the work written in between is what a real
    # disaster would have lost.
    disaster: datetime | None = None
    disaster_mono: float | None = None
    recovered: datetime | None = None
    recovered_mono: float | None = None

    def add_step(self, outcome: StepOutcome) -> None:
        self.steps = [s for s in self.steps if s.name != outcome.name] + [outcome]

    def add_phase(self, phase: Phase) -> None:
        self.phases.append(phase)

    def outcome(self, name: str) -> StepOutcome | None:
        return next((s for s in self.steps if s.name == name), None)

    def status(self, name: str) -> str | None:
        outcome = self.outcome(name)
        return None if outcome is None else outcome.status

    def first_failure(self) -> StepOutcome | None:
        ordered = sorted(self.steps, key=lambda s: step_number(s.name))
        return next((s for s in ordered if s.status == FAILED), None)

    def mark_disaster(self, at: datetime, mono: float) -> None:
        self.disaster, self.disaster_mono = at, mono

    def mark_recovered(self, at: datetime, mono: float) -> None:
        self.recovered, self.recovered_mono = at, mono

    def rto_seconds(self, now_mono: float | None = None) -> float | None:
        """Seconds from the loss to recovery; while still recovering, to ``now_mono`` (a running clock)."""
        if self.disaster_mono is None:
            return None
        end = self.recovered_mono if self.recovered_mono is not None else now_mono
        return None if end is None else max(0.0, end - self.disaster_mono)

    def phase_seconds(self, step: str) -> dict[str, float]:
        return {p.name: round(p.seconds, 3) for p in self.phases if p.step == step}


def rpo_seconds(backup_created: datetime | None, disaster: datetime | None) -> float | None:
    """The data-loss window: from the backup the restore used to the moment of the loss."""
    if backup_created is None or disaster is None:
        return None
    return max(0.0, (disaster - backup_created).total_seconds())
