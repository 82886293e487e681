"""Timeline measurements and the verdict, with times passed in (exact)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dr_lib.drill.timeline import FAILED, PASSED, SKIPPED, STEP_NAMES, StepOutcome, Timeline, iso, rpo_seconds
from dr_lib.drill.verdict import Targets, judge

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
TARGETS = Targets(rto_seconds=900, rpo_seconds=3600)


def _timeline(statuses: dict[str, str], *, disaster: float | None = 100.0, recovered: float | None = 160.0) -> Timeline:
    timeline = Timeline(T0)
    for i, name in enumerate(STEP_NAMES[:-1]):
        status = statuses.get(name, PASSED)
        timeline.add_step(StepOutcome(name, status, T0 + timedelta(seconds=i), 1.0,
                                      "" if status == PASSED else f"{name} broke"))
    if disaster is not None:
        timeline.mark_disaster(T0 + timedelta(seconds=disaster), disaster)
    if recovered is not None:
        timeline.mark_recovered(T0 + timedelta(seconds=recovered), recovered)
    return timeline


def test_iso_is_utc_with_z_and_milliseconds() -> None:
    assert iso(T0 + timedelta(microseconds=123456)) == "2026-11-28T12:00:00.123Z"


def test_rto_runs_from_the_loss_to_recovery() -> None:
    timeline = _timeline({})
    assert timeline.rto_seconds() == 60.0
    running = _timeline({}, recovered=None)
    assert running.rto_seconds() is None and running.rto_seconds(now_mono=130.0) == 30.0


def test_rpo_is_the_backups_age_at_the_loss() -> None:
    assert rpo_seconds(T0, T0 + timedelta(minutes=5)) == 300.0
    assert rpo_seconds(None, T0) is None and rpo_seconds(T0, None) is None


def test_pass_when_every_step_passed_within_targets() -> None:
    verdict = judge(_timeline({}), 30.0, TARGETS)
    assert verdict.verdict == "pass" and verdict.failed_step is None and verdict.reasons == ()
    assert verdict.to_json()["rto_met"] and verdict.to_json()["rpo_met"]


@pytest.mark.parametrize(("rto_end", "rpo", "reason"), [
    (100.0 + 901, 30.0, "RTO 901.0 s exceeds the target 900 s"),
    (160.0, 3601.0, "RPO 3601.0 s exceeds the target 3600 s"),
])
def test_missed_targets_fail_at_judge(rto_end: float, rpo: float, reason: str) -> None:
    verdict = judge(_timeline({}, recovered=rto_end), rpo, TARGETS)
    assert verdict.verdict == "fail" and verdict.failed_step == "judge"
    assert reason in verdict.reasons


def test_first_failed_step_is_where_the_drill_failed() -> None:
    timeline = _timeline({"restore": FAILED, "verify": FAILED}, recovered=None)
    verdict = judge(timeline, 10.0, TARGETS)
    assert verdict.failed_step == "restore"
    assert "step restore failed: restore broke" in verdict.reasons
    assert any(r.startswith("RTO not measured") for r in verdict.reasons)


def test_skipped_or_missing_steps_fail_the_drill() -> None:
    timeline = _timeline({"destroy": SKIPPED})
    verdict = judge(timeline, 10.0, TARGETS)
    assert verdict.verdict == "fail" and verdict.failed_step == "destroy"
    empty = judge(Timeline(T0), None, TARGETS)
    assert empty.verdict == "fail" and empty.failed_step == "source"
    assert "step source did not run" in empty.reasons
