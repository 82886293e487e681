"""The restore drill, one test per step, in order: the report shows exactly where a drill failed.

A step whose prerequisite failed is skipped with the reason naming that step (it did not pass:
it could not run). The judge always runs and fails unless everything before it passed and RTO
and RPO are within their targets.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dr_lib.drill import steps
from dr_lib.drill.run import DrillRun
from dr_lib.drill.suite.plugin import DRILL_RUN_KEY
from dr_lib.errors import StepSkipped

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def drill(pytestconfig: pytest.Config) -> DrillRun:
    run = pytestconfig.stash.get(DRILL_RUN_KEY, None)
    if run is None:
        pytest.skip("no drill configured: run `k3s-dr drill`, or `pytest tests/e2e --run-e2e`")
    return run


def _step(name: str) -> Callable[[Callable[[DrillRun], None]], Callable[[DrillRun], None]]:
    def mark(test: Callable[[DrillRun], None]) -> Callable[[DrillRun], None]:
        test.drill_step = name  # type: ignore[attr-defined]  # read by the plugin for columns and extras
        return test
    return mark


def _execute(drill: DrillRun, name: str, step: Callable[[DrillRun], None]) -> None:
    try:
        drill.execute(name, step)
    except StepSkipped as exc:
        pytest.skip(str(exc))


@_step("source")
def test_1_source_cluster_seeded(drill: DrillRun) -> None:
    _execute(drill, "source", steps.source)


@_step("backup")
def test_2_backup(drill: DrillRun) -> None:
    _execute(drill, "backup", steps.backup)


@_step("destroy")
def test_3_destroy(drill: DrillRun) -> None:
    _execute(drill, "destroy", steps.destroy)


@_step("restore")
def test_4_restore(drill: DrillRun) -> None:
    _execute(drill, "restore", steps.restore)


@_step("verify")
def test_5_verify(drill: DrillRun) -> None:
    _execute(drill, "verify", steps.verify)


@_step("judge")
def test_6_judge_rto_rpo(drill: DrillRun) -> None:
    _execute(drill, "judge", steps.judge)
