"""The boot drill's judging (pure): systemd readings, journal lines and state file in, verdicts
and boot times out. The readings are fakes shaped like what the reference host printed."""

from __future__ import annotations

import dataclasses

import pytest

from k3s_dr_testbed.lab.bootdrill import (
    BootClock,
    BootObservation,
    Decision,
    UnitRun,
    boot_json,
    boot_times,
    drill_verdict,
    evidence,
    journal_decisions,
    judge_boot,
    parse_show,
    state_decision,
)

SHOW = """ActiveState=inactive
Result=success
ConditionResult=yes
ConditionTimestampMonotonic=5177432205
ExecMainStatus=0
ExecMainStartTimestampMonotonic=5177444298
ExecMainExitTimestampMonotonic=5178216279
InvocationID=04e5e4d246144b64a123369dd04c7a33
"""
JOURNAL = """k3s-dr: auto-restore decision: restore — objects lost: 0 of 6 user objects of the snapshot present \
(100% lost), at or above the threshold 50%
k3s-dr: archive /var/backups/k3s-cluster/k3s-dr-20261128T194036Z.tar.gz verified (143 objects)
auto-restore: restore: objects lost: 0 of 6 user objects of the snapshot present (100% lost), at or above \
the threshold 50%
"""
REASON = "objects lost: 0 of 6 user objects of the snapshot present (100% lost), at or above the threshold 50%"
CLOCK = BootClock(restart_called=5164.0, init_started=5174.613465, boot_finished=5178.248069,
                  k3s_ready=5177.431609, objects_seen=5178.4)


def _boot(**changes: object) -> BootObservation:
    good = BootObservation("boot after the loss", True, CLOCK, UnitRun.from_show(parse_show(SHOW)),
                           journal_decisions(JOURNAL), Decision(True, REASON), "boot-a", True)
    return dataclasses.replace(good, **changes)  # type: ignore[arg-type]


def test_readings_parse_like_systemd_prints_them() -> None:
    unit = UnitRun.from_show(parse_show(SHOW))
    assert (unit.active_state, unit.result, unit.condition_result, unit.exit_status) == \
        ("inactive", "success", "yes", 0)
    assert unit.condition_at == pytest.approx(5177.432205) and unit.exited_at == pytest.approx(5178.216279)
    assert journal_decisions(JOURNAL) == (Decision(True, REASON),)  # the summary line is not a second decision
    assert state_decision({"decisions": [{"restore": False, "reason": "x", "boot_id": "b1"},
                                         {"restore": True, "reason": REASON, "boot_id": "b2"}]}) == \
        (Decision(True, REASON), "b2")
    assert state_decision({}) == (None, "") and state_decision("garbage") == (None, "")


def test_a_good_boot_passes_and_its_rto_is_read_off_systemd() -> None:
    boot = _boot()
    assert judge_boot(boot) == ()
    times = boot_times(boot)
    assert times["boot_rto_seconds"] == pytest.approx(3.603, abs=0.001)  # init → the unit exited
    assert times["k3s_ready_seconds"] == pytest.approx(2.818, abs=0.001)
    assert times["shutdown_seconds"] == pytest.approx(10.613, abs=0.001)
    assert boot_json(boot)["verdict"] == "pass"


NEVER_RAN = UnitRun("inactive", "success", "no", None, 0, None, None, "")
LAST_BOOTS_RUN = dataclasses.replace(UnitRun.from_show(parse_show(SHOW)), condition_at=5000.0)

# (case, changes to a good boot, the rule that must catch it)
BROKEN: list[tuple[str, dict[str, object], str]] = [
    ("the unit did not run (seed problem: not enabled)", {"unit": NEVER_RAN}, "ran during this boot"),
    ("a reading from the previous boot", {"unit": LAST_BOOTS_RUN}, "ran during this boot"),
    ("condition failed (no snapshot link)",
     {"unit": dataclasses.replace(UnitRun.from_show(parse_show(SHOW)), condition_result="no")}, "ConditionResult"),
    ("the restore failed", {"unit": dataclasses.replace(UnitRun.from_show(parse_show(SHOW)), exit_status=3,
                                                        result="exit-code", active_state="failed")}, "exit status 0"),
    ("ran before k3s was ready", {"clock": dataclasses.replace(CLOCK, k3s_ready=5177.9)}, "k3s was ready"),
    ("no decision logged", {"journal": ()}, "exactly one decision"),
    ("decided not to restore after a loss", {"journal": (Decision(False, "at most one per boot"),)},
     "expected one"),
    ("state file disagrees", {"state": Decision(False, "older")}, "state file"),
    ("objects not back", {"objects_back": False}, "every user object"),
]


@pytest.mark.parametrize(("case", "changes", "rule"), BROKEN, ids=[c[0] for c in BROKEN])
def test_each_broken_boot_is_caught_by_its_rule(case: str, changes: dict[str, object], rule: str) -> None:
    problems = judge_boot(_boot(**changes))
    assert any(rule in p for p in problems), (case, problems)


def test_a_quiet_boot_must_leave_the_objects_untouched() -> None:
    quiet = _boot(expect_restore=False, journal=(Decision(False, "cluster healthy"),),
                  state=Decision(False, "cluster healthy"))
    assert judge_boot(quiet) == ()
    assert boot_times(quiet)["boot_rto_seconds"] is None  # nothing restored: no RTO
    assert any("rewritten" in p for p in judge_boot(dataclasses.replace(quiet, unchanged=False)))


def test_clocks_that_disagree_drop_the_cross_clock_numbers() -> None:
    skewed = _boot(clock=dataclasses.replace(CLOCK, restart_called=9999.0))
    times = boot_times(skewed)
    assert times["shutdown_seconds"] is None and times["boot_to_seen_seconds"] is None
    assert times["boot_rto_seconds"] == pytest.approx(3.603, abs=0.001)  # systemd's own clock only


def test_drill_verdict_wants_distinct_boots() -> None:
    first, second = _boot(state_boot_id="k+init@1"), _boot(state_boot_id="k+init@2")
    assert drill_verdict([first, second]) == ("pass", [])
    verdict, reasons = drill_verdict([first, _boot(state_boot_id="k+init@1")])
    assert verdict == "fail" and "same boot id" in reasons[0]
    assert drill_verdict([])[0] == "fail"


def test_evidence_document() -> None:
    doc = evidence({"name": "h"}, {"archive": "/a.tar.gz", "sha256": "f" * 64, "token": "x"}, [_boot()],
                   started="s", finished="f", user_objects=6)
    assert doc["verdict"] == "pass" and doc["boot_rto_seconds"] == pytest.approx(3.603, abs=0.001)
    assert doc["backup"]["sha256"] == "f" * 64 and "token" not in doc["backup"]
    assert [b["decision"] for b in doc["boots"]] == [{"restore": True, "reason": REASON}]
