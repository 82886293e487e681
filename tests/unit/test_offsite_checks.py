"""DR-OFFSITE-001..003 on a synthetic host (a *fake* host built from values, see _host_facts): a host
with offsite targets and a good push record passes them; each seeded offsite problem is caught by its
control and by no other; without targets all three are n/a. The record's format round-trips."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pyrage
import pytest
from _host_facts import ARCHIVE, NOW, healthy, with_file_content, with_files, with_unit

from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.hostfacts import HostFacts, Layout
from dr_lib.checks.model import Outcome
from dr_lib.checks.pushstate import PushAttempt, TargetPushes, parse_push_state, render_push_state
from dr_lib.config import config_from_text

RECIPIENT = str(pyrage.x25519.Identity.generate().to_public())
OLDER = "k3s-dr-20270115T065000Z.tar.gz"
OFFSITE = ("DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003")


def layout(encrypt: str = "required", recipients: str = RECIPIENT, keep: int = 3) -> Layout:
    text = f"""
offsite:
  encrypt: {encrypt}
  recipients: [{recipients}]
  targets:
    lab: {{bucket: dr-copies, keep: {keep}, keep_daily: 1, keep_weekly: 1, max_age: 2h}}
    home: {{type: restic, repository: /srv/restic, password_file: /etc/k3s-dr/restic.pass}}
"""
    return Layout(config_from_text(text, "test"), "/etc/k3s-dr/config.yaml")


def attempt(**changes: object) -> PushAttempt:
    base = PushAttempt(at=NOW - 540, trigger="backup", ok=True, archive=ARCHIVE, type="s3", action="pushed",
                       ref=f"k3s-dr/{ARCHIVE}.age", bytes_sent=60000, stored_bytes=60200, seconds=1.5,
                       verified=True, encrypted=True, remote_good=4, retention="applied", backup_ok=True)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def good_record() -> dict[str, TargetPushes]:
    restic = attempt(type="restic", ref="3f2a9c1d", remote_good=9)
    return {"lab": TargetPushes(attempt(), attempt()), "home": TargetPushes(restic, restic)}


def offsite_host(record: dict[str, TargetPushes] | None = None, **config: object) -> HostFacts:
    facts = dataclasses.replace(healthy(), layout=layout(**config))  # type: ignore[arg-type]
    return with_file_content(facts, facts.layout.push_state,
                             render_push_state(good_record() if record is None else record))


def with_lab(last: PushAttempt | None, success: PushAttempt | None = None) -> Callable[[HostFacts], HostFacts]:
    record = good_record()
    record["lab"] = TargetPushes(last, success)
    return lambda f: with_file_content(f, f.layout.push_state, render_push_state(record))


def failing(facts: HostFacts) -> dict[str, str]:
    return {cid: f.problem for cid, f in evaluate_all(facts).items() if f.outcome is Outcome.FAIL}


def test_a_host_with_current_encrypted_copies_passes_all_three() -> None:
    findings = evaluate_all(offsite_host())
    assert {cid: findings[cid].outcome for cid in OFFSITE} == dict.fromkeys(OFFSITE, Outcome.PASS)
    assert not failing(offsite_host())
    assert "home: 3f2a9c1d encrypted with restic's repository key" in findings["DR-OFFSITE-002"].evidence
    assert "lab: 4 good copies" in findings["DR-OFFSITE-003"].evidence


def test_without_targets_all_three_are_not_applicable() -> None:
    findings = evaluate_all(healthy())
    for cid in OFFSITE:
        assert findings[cid].outcome is Outcome.NOT_APPLICABLE
        assert "no offsite target is configured" in findings[cid].evidence


FAILED = attempt(ok=False, action="", ref="", bytes_sent=0, verified=False, encrypted=False, remote_good=None,
                 retention="skipped", error="offsite target 'lab': the server could not be reached", exit_code=7)
STALE_SUCCESS = attempt(at=NOW - 3 * 3600, archive=OLDER)

# (what is wrong, how it is seeded on a good offsite host, the one control that must catch it)
MUTATIONS: list[tuple[str, Callable[[HostFacts], HostFacts], str]] = [
    ("never pushed to lab", with_lab(None), "DR-OFFSITE-001"),
    ("the last push failed", with_lab(FAILED, attempt(at=NOW - 4000)), "DR-OFFSITE-001"),
    ("no push succeeded for 3 h while a newer archive waits", with_lab(STALE_SUCCESS, STALE_SUCCESS),
     "DR-OFFSITE-001"),
    ("the push record is damaged", lambda f: with_file_content(f, f.layout.push_state, "{not json"),
     "DR-OFFSITE-001"),
    ("the last copy is in clear text", with_lab(attempt(encrypted=False), attempt(encrypted=False)),
     "DR-OFFSITE-002"),
    ("more copies than retention keeps", with_lab(attempt(remote_good=9, retention="skipped"),
                                                  attempt(remote_good=9, retention="skipped")), "DR-OFFSITE-003"),
    ("remote retention failed", with_lab(attempt(retention="failed", retention_error="AccessDenied"),
                                         attempt(retention="failed", retention_error="AccessDenied")),
     "DR-OFFSITE-003"),
]


@pytest.mark.parametrize(("seeded", "mutate", "control_id"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_offsite_problem_is_caught_by_its_control_only(seeded: str, mutate: Callable[[HostFacts], HostFacts],
                                                            control_id: str) -> None:
    assert set(failing(mutate(offsite_host()))) == {control_id}, seeded


def test_failures_name_the_target_and_the_cause() -> None:
    problems = failing(with_lab(FAILED, attempt(at=NOW - 4000))(offsite_host()))
    assert problems["DR-OFFSITE-001"].startswith("lab: the last push (9m ago, by a backup run) failed: ")
    assert "could not be reached" in problems["DR-OFFSITE-001"]
    stale = failing(with_lab(STALE_SUCCESS, STALE_SUCCESS)(offsite_host()))["DR-OFFSITE-001"]
    assert f"lab: {ARCHIVE} is not offsite" in stale and "3h00m" in stale and "max_age 2h" in stale
    skipped = attempt(remote_good=9, retention="skipped")
    too_many = failing(with_lab(skipped, skipped)(offsite_host()))["DR-OFFSITE-003"]
    assert "lab holds 9 good copies" in too_many and "(5: keep 3, keep_daily 1, keep_weekly 1)" in too_many
    assert "--no-retention" in too_many
    plain = failing(with_lab(attempt(encrypted=False), attempt(encrypted=False))(offsite_host()))["DR-OFFSITE-002"]
    assert "is not encrypted, though offsite.encrypt is required" in plain


def test_a_newer_archive_waiting_within_max_age_passes() -> None:
    recent = attempt(at=NOW - 1800, archive=OLDER)
    finding = evaluate_all(with_lab(recent, recent)(offsite_host()))["DR-OFFSITE-001"]
    assert finding.outcome is Outcome.PASS and f"{ARCHIVE} not yet offsite" in finding.evidence


def test_stopped_backups_are_the_backup_controls_problem_not_offsite() -> None:
    """The newest archive is offsite; the push is old because backups stopped: DR-BKP-004 owns it."""
    old = attempt(at=NOW - 5 * 3600)
    facts = with_lab(old, old)(offsite_host())
    facts = with_files(facts, archives=tuple(dataclasses.replace(a, mtime=NOW - 5 * 3600)
                                             for a in facts.files.archives))
    assert "DR-OFFSITE-001" not in failing(facts) and "DR-BKP-004" in failing(facts)


def test_no_local_archive_yet_and_no_push_is_not_applicable() -> None:
    facts = with_files(with_lab(None)(offsite_host()), newest_verified=None)
    assert evaluate_all(facts)["DR-OFFSITE-001"].outcome is not Outcome.FAIL


@pytest.mark.parametrize(("encrypt", "recipients", "outcome"), [
    ("off", RECIPIENT, Outcome.NOT_APPLICABLE),  # not required: a clear copy is what was asked for
    ("auto", "", Outcome.FAIL),  # plaintext copies only with encrypt: off (issue 14), recipients or not
    ("auto", RECIPIENT, Outcome.FAIL),  # recipients set: copies are meant to be encrypted
    ("required", RECIPIENT, Outcome.FAIL),
])
def test_encryption_is_judged_only_where_required(encrypt: str, recipients: str, outcome: Outcome) -> None:
    plain = attempt(encrypted=False)
    facts = with_lab(plain, plain)(offsite_host(encrypt=encrypt, recipients=recipients))
    assert evaluate_all(facts)["DR-OFFSITE-002"].outcome is outcome


def test_a_failed_push_is_not_judged_for_encryption_or_retention() -> None:
    findings = evaluate_all(with_lab(FAILED)(offsite_host()))
    assert findings["DR-OFFSITE-001"].outcome is Outcome.FAIL
    for cid in ("DR-OFFSITE-002", "DR-OFFSITE-003"):  # home passes, lab has no success yet
        assert findings[cid].outcome is Outcome.PASS and "lab: no successful push yet" in findings[cid].evidence


def test_a_backup_run_whose_push_failed_fails_offsite_not_the_backup_timer() -> None:
    """Exit 3 of the backup unit because its push failed is DR-OFFSITE-001's problem only."""
    units = offsite_host().layout.config.units
    after_start = attempt(ok=False, at=NOW - 500, error="could not be reached", backup_ok=True)
    facts = with_unit(with_lab(after_start, attempt(at=NOW - 4000))(offsite_host()), units.backup,
                      result="exit-code", exec_main_status=3, exec_main_start=NOW - 600)
    assert set(failing(facts)) == {"DR-OFFSITE-001"}
    assert "its offsite push failed" in evaluate_all(facts)["DR-TIMER-002"].evidence
    partial = with_unit(with_lab(dataclasses.replace(after_start, backup_ok=False))(offsite_host()), units.backup,
                        result="exit-code", exec_main_status=3, exec_main_start=NOW - 600)
    assert set(failing(partial)) == {"DR-OFFSITE-001", "DR-TIMER-002"}  # the backup itself was partial too
    earlier = with_unit(with_lab(after_start)(offsite_host()), units.backup, result="exit-code",
                        exec_main_status=3, exec_main_start=NOW - 60)  # that push failed in an earlier run
    assert "DR-TIMER-002" in failing(earlier)


def test_the_record_round_trips_and_rejects_what_it_did_not_write() -> None:
    record = good_record()
    assert parse_push_state(render_push_state(record)) == record
    for text, why in [('{"format": "other"}', "not a k3s-dr offsite push record"),
                      ('{"format": "k3s-dr-offsite-pushes", "version": 9}', "version 9"),
                      (json.dumps({"format": "k3s-dr-offsite-pushes", "version": 1,
                                   "targets": {"lab": {"last": {"at": "noon", "trigger": "manual", "ok": True,
                                                                "archive": ARCHIVE}}}}), "targets.lab.last.at"),
                      (json.dumps({"format": "k3s-dr-offsite-pushes", "version": 1,
                                   "targets": {"lab": {"last": {"at": 1.0, "ok": True}}}}), "missing")]:
        with pytest.raises((ValueError, TypeError), match=why):
            parse_push_state(text)
