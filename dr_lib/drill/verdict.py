"""The drill's verdict: pure judgement of what the steps did and what was measured.

A drill passes only when every step passed, the application was proved back (RTO measured)
and both measurements are within the targets from the configuration (``targets.rto``,
``targets.rpo``; the seed's 15 minutes and 1 hour by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dr_lib.drill.timeline import FAILED, PASSED, STEP_NAMES, Timeline

PASS = "pass"  # noqa: S105 - a verdict, not a password
FAIL = "fail"


@dataclass(frozen=True)
class Targets:
    rto_seconds: int
    rpo_seconds: int


@dataclass(frozen=True)
class Verdict:
    verdict: str  # pass | fail
    rto_seconds: float | None
    rpo_seconds: float | None
    targets: Targets
    failed_step: str | None = None
    reasons: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "failed_step": self.failed_step,
            "reasons": list(self.reasons),
            "rto_seconds": None if self.rto_seconds is None else round(self.rto_seconds, 3),
            "rpo_seconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 3),
            "rto_target_seconds": self.targets.rto_seconds,
            "rpo_target_seconds": self.targets.rpo_seconds,
            "rto_met": self.rto_seconds is not None and self.rto_seconds <= self.targets.rto_seconds,
            "rpo_met": self.rpo_seconds is not None and self.rpo_seconds <= self.targets.rpo_seconds,
        }


def _measure_reasons(rto: float | None, rpo: float | None, targets: Targets) -> list[str]:
    reasons: list[str] = []
    if rto is None:
        reasons.append("RTO not measured: the application was never proved back")
    elif rto > targets.rto_seconds:
        reasons.append(f"RTO {rto:.1f} s exceeds the target {targets.rto_seconds} s")
    if rpo is None:
        reasons.append("RPO not measured: no backup time or no loss recorded")
    elif rpo > targets.rpo_seconds:
        reasons.append(f"RPO {rpo:.1f} s exceeds the target {targets.rpo_seconds} s")
    return reasons


def judge(timeline: Timeline, rpo: float | None, targets: Targets,
          *, judged_steps: tuple[str, ...] = STEP_NAMES[:-1]) -> Verdict:
    """Judge the steps before ``judge`` itself, and the measurements (RPO computed by the caller
    from the backup it recorded, see :func:`dr_lib.drill.timeline.rpo_seconds`)."""
    reasons: list[str] = []
    failed_step: str | None = None
    for name in judged_steps:
        status = timeline.status(name)
        if status == PASSED:
            continue
        outcome = timeline.outcome(name)
        if failed_step is None and status == FAILED:
            failed_step = name
        detail = f": {outcome.message}" if outcome is not None and outcome.message else ""
        reasons.append(f"step {name} {status or 'did not run'}{detail}")
    if failed_step is None and reasons:
        failed_step = next(name for name in judged_steps if timeline.status(name) != PASSED)
    rto = timeline.rto_seconds()
    measure = _measure_reasons(rto, rpo, targets)
    if measure and failed_step is None:
        failed_step = "judge"
    reasons.extend(measure)
    return Verdict(PASS if not reasons else FAIL, rto, rpo, targets, failed_step, tuple(reasons))
