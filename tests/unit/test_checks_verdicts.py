"""The controls' verdicts on a synthetic host: healthy passes everything; each seeded problem is
caught by its intended control and by no other (the pure twin of the reference-host table)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

import pytest
from _host_facts import (
    ARCHIVE,
    DIGEST,
    DIR,
    EXE,
    LAYOUT,
    NOW,
    archive,
    healthy,
    iso,
    link,
    manifest,
    members_for,
    path,
    with_file_content,
    with_files,
    with_stat,
    with_unit,
)

from dr_lib.checks.controls import CONTROLS
from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.hostfacts import EXPORTER_UNIT, LOGROTATE_PATH, HostFacts, Inspection, PathFacts
from dr_lib.checks.model import Outcome
from dr_lib.checks.units import PathCondition
from dr_lib.checks.waivers import Waiver, WaiverSet

UNITS = LAYOUT.config.units


def failing(facts: HostFacts) -> dict[str, str]:
    return {cid: f.problem for cid, f in evaluate_all(facts).items() if f.outcome is Outcome.FAIL}


def test_healthy_host_passes_every_control() -> None:
    findings = evaluate_all(healthy())
    assert {cid for cid, f in findings.items() if f.outcome is not Outcome.PASS} == {
        "DR-METRICS-001", "DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003", "DR-TRUST-001"}
    assert findings["DR-TRUST-001"].outcome is Outcome.NOT_APPLICABLE  # no verify key: install made none here
    assert findings["DR-METRICS-001"].outcome is Outcome.NOT_APPLICABLE  # no textfile and checks.metrics: auto
    assert "k3s-dr-exporter.service: load=loaded file=enabled active=active/running" in \
        findings["DR-METRICS-003"].evidence
    for control_id in ("DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003"):  # no offsite target configured
        assert findings[control_id].outcome is Outcome.NOT_APPLICABLE


def _inspected(data: dict) -> Callable[[HostFacts], HostFacts]:
    return lambda f: with_files(f, inspected=Inspection(ARCHIVE, data, members_for(data), ()))


def _tampered(f: HostFacts) -> HostFacts:
    corrupt = archive("k3s-dr-20000101T000000Z.tar.gz", sidecar=None, sha256="00" * 32)
    return with_stat(with_files(f, archives=(*f.files.archives, corrupt)),
                     link(LAYOUT.snapshot_link, "k3s-dr-20000101T000000Z.tar.gz"))


def _extra_archives(count: int) -> Callable[[HostFacts], HostFacts]:
    extra = tuple(archive(f"k3s-dr-2000010{i}T000000Z.tar.gz", sidecar=None, sha256=None, mtime=NOW - 9000)
                  for i in range(count))
    return lambda f: with_files(f, archives=(*f.files.archives, *extra))


OLDER = "k3s-dr-20270115T065000Z.tar.gz"


def _wiped_snapshot(facts: HostFacts, *, older_users: int | None, snapshot_users: int | None = 0,
                    older_verified: bool = True) -> HostFacts:
    """The snapshot's archive counts ``snapshot_users`` user objects; an older archive ``older_users``."""
    def sidecar(name: str, users: int | None) -> dict[str, object]:
        record: dict[str, object] = {"archive": name, "sha256": DIGEST, "bytes": 60000}
        return record if users is None else {**record, "user_objects": users, "user_objects_rules": 2}

    older = archive(OLDER, mtime=NOW - 4200, sha256=None,
                    sidecar=sidecar(OLDER, older_users) if older_verified else None)
    return with_files(facts, archives=(archive(sidecar=sidecar(ARCHIVE, snapshot_users)), older))


def _planted_copy(facts: HostFacts, name: str) -> HostFacts:
    """A copy of the archive, sidecar included (so it names the original), older, and the snapshot link on it."""
    copy = archive(name, mtime=NOW - 4000)  # the record still says ARCHIVE: copied along with the file
    copy = dataclasses.replace(copy, sidecar={**(copy.sidecar or {}), "archive": ARCHIVE})
    return with_stat(with_files(facts, archives=(*facts.files.archives, copy)), link(LAYOUT.snapshot_link, name))


def _waivers(*waivers: Waiver) -> Callable[[HostFacts], HostFacts]:
    return lambda f: dataclasses.replace(f, waivers=WaiverSet(waivers, (), "/etc/k3s-dr/waivers.yaml", True))


# (what is wrong, how it is seeded, the one control that must catch it)
MUTATIONS: list[tuple[str, Callable[[HostFacts], HostFacts], str]] = [
    ("snapshot link missing", lambda f: with_stat(f, PathFacts(LAYOUT.snapshot_link)), "DR-LINK-002"),
    ("snapshot link dangling", lambda f: with_stat(f, dataclasses.replace(
        link(LAYOUT.snapshot_link, "gone.tar.gz"), exists=False)), "DR-LINK-002"),
    ("snapshot link on a corrupt archive", _tampered, "DR-LINK-003"),
    ("snapshot link to a verified archive outside the backup directory", lambda f: with_stat(f, dataclasses.replace(
        link(LAYOUT.snapshot_link, f"/srv/planted/{ARCHIVE}"), resolved=f"/srv/planted/{ARCHIVE}")), "DR-LINK-003"),
    ("snapshot link to a copy carrying another archive's record", lambda f: _planted_copy(f, "k3s-dr-20270115T000000Z"
                                                                                          ".tar.gz"), "DR-LINK-003"),
    ("snapshot link to a verified file not named like an archive", lambda f: _planted_copy(f, "k3s-dr-x.tar.gz"),
     "DR-LINK-003"),
    ("latest link missing", lambda f: with_stat(f, PathFacts(LAYOUT.latest_link)), "DR-LINK-001"),
    ("latest link is a plain file", lambda f: with_stat(f, path(LAYOUT.latest_link)), "DR-LINK-001"),
    ("auto-restore disabled", lambda f: with_unit(f, UNITS.auto_restore, unit_file_state="disabled"),
     "DR-RESTORE-001"),
    ("auto-restore masked", lambda f: with_unit(f, UNITS.auto_restore, load_state="masked",
                                                unit_file_state="masked"), "DR-RESTORE-001"),
    ("condition names another path", lambda f: with_unit(f, UNITS.auto_restore, path_conditions=(
        PathCondition(f"{DIR}/k3s-snapshot.tar.gz"),)), "DR-RESTORE-002"),
    ("another condition unmet", lambda f: with_unit(f, UNITS.auto_restore, other_conditions=(
        "ConditionVirtualization=!container",), other_conditions_hold=False), "DR-RESTORE-002"),
    ("not ordered after k3s", lambda f: with_unit(f, UNITS.auto_restore, after=("basic.target",)),
     "DR-RESTORE-003"),
    ("runs the seed's script", lambda f: with_unit(f, UNITS.auto_restore, exec_argv=(
        ("/usr/local/bin/restore-cluster-state.sh",),)), "DR-RESTORE-004"),
    ("ExecStart program missing", lambda f: with_stat(f, PathFacts(EXE)), "DR-UNIT-002"),
    ("unit changed without daemon-reload", lambda f: with_unit(f, UNITS.backup, need_daemon_reload=True),
     "DR-UNIT-001"),
    ("timer disabled", lambda f: with_unit(f, UNITS.backup_timer, unit_file_state="disabled",
                                           active_state="inactive"), "DR-TIMER-001"),
    ("timer slower than the RPO", lambda f: with_unit(f, UNITS.backup_timer, timer_intervals=(
        ("OnUnitActive", 7200.0),)), "DR-TIMER-001"),
    ("last backup run failed", lambda f: with_unit(f, UNITS.backup, result="exit-code", exec_main_status=7),
     "DR-TIMER-002"),
    ("stale backup", lambda f: with_files(f, archives=(archive(mtime=NOW - 3 * 3600),)), "DR-BKP-004"),
    ("archive world-readable", lambda f: with_files(f, archives=(archive(mode=0o644),)), "DR-BKP-003"),
    ("backup directory open", lambda f: with_stat(f, path(DIR, kind="dir", mode=0o755)), "DR-BKP-001"),
    ("too many archives", _extra_archives(4), "DR-BKP-002"),
    ("snapshot on a backup of a wiped cluster", lambda f: _wiped_snapshot(f, older_users=28), "DR-LINK-004"),
    ("kinds missing", _inspected(manifest(kinds=(("", "namespaces"), ("", "services")))), "DR-ARCH-002"),
    ("archive without datastore", _inspected(manifest(datastore=False)), "DR-ARCH-003"),
    ("a pod's dump left out", _inspected(manifest(data=("data/hooks/shop/web-0/dump.dump",), data_failures=(
        "dump hook of pod shop/db-0 container 'db' failed: exit code 3 (on-error=continue: left out, backup partial)",
    ))), "DR-DATA-001"),
    ("token missing on the host", lambda f: with_stat(f, PathFacts(LAYOUT.token)), "DR-K3S-001"),
    ("token readable by others", lambda f: with_stat(f, path(LAYOUT.token, mode=0o644)), "DR-K3S-001"),
    ("k3s disabled", lambda f: with_unit(f, UNITS.k3s, unit_file_state="disabled"), "DR-K3S-002"),
    ("error line in the log", lambda f: with_files(f, log_lines=(*f.files.log_lines, f"{iso(NOW - 60)} k3s-dr "
                                                   "backup FAILED exit=6 error='refused'")), "DR-LOG-001"),
    ("no success in the RPO", lambda f: with_files(f, log_lines=(f"{iso(NOW - 7200)} k3s-dr backup ok",)),
     "DR-LOG-001"),
    ("log rotation missing", lambda f: with_file_content(f, LOGROTATE_PATH, None), "DR-LOG-002"),
    ("metrics stale", lambda f: with_file_content(f, LAYOUT.config.metrics.textfile,
                                                  f"k3s_dr_backup_last_success_timestamp_seconds {NOW - 9000}\n"),
     "DR-METRICS-001"),
    ("exporter serves stale values", lambda f: with_files(f, scrape={
        "status": 200, "body": f"k3s_dr_metrics_collected_timestamp_seconds {NOW - 3600}\n"}), "DR-METRICS-002"),
    ("exporter runs but answers elsewhere", lambda f: with_files(f, scrape={
        "status": None, "body": None, "error": "ConnectionRefusedError"}), "DR-METRICS-002"),
    ("exporter stopped", lambda f: with_unit(f, EXPORTER_UNIT, active_state="inactive", sub_state="dead"),
     "DR-METRICS-003"),
    ("exporter disabled and stopped", lambda f: with_unit(f, EXPORTER_UNIT, unit_file_state="disabled",
                                                          active_state="inactive", sub_state="dead"),
     "DR-METRICS-003"),
    ("exporter disabled but running", lambda f: with_unit(f, EXPORTER_UNIT, unit_file_state="disabled"),
     "DR-METRICS-003"),
    ("exporter masked", lambda f: with_unit(f, EXPORTER_UNIT, load_state="masked", unit_file_state="masked",
                                            active_state="inactive"), "DR-METRICS-003"),
    ("exporter restarting after failures", lambda f: with_unit(f, EXPORTER_UNIT, active_state="activating",
                                                               sub_state="auto-restart", result="exit-code"),
     "DR-METRICS-003"),
    ("exporter not installed (an earlier install)", lambda f: with_unit(
        f, EXPORTER_UNIT, load_state="not-found", unit_file_state="", active_state="inactive", exec_paths=()),
     "DR-METRICS-003"),
    ("exporter's program missing", lambda f: with_unit(
        with_stat(f, PathFacts("/opt/gone/k3s-dr")), EXPORTER_UNIT, exec_paths=("/opt/gone/k3s-dr",),
        active_state="activating", sub_state="auto-restart"), "DR-UNIT-002"),
    ("exporter unit changed without daemon-reload", lambda f: with_unit(f, EXPORTER_UNIT, need_daemon_reload=True),
     "DR-UNIT-001"),
    ("expired waiver", _waivers(Waiver("DR-LOG-002", "accepted for the migration", date(2020, 1, 1))),
     "DR-WAIVER-001"),
]


@pytest.mark.parametrize(("seeded", "mutate", "control_id"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_problem_is_caught_by_its_control_only(seeded: str, mutate: Callable[[HostFacts], HostFacts],
                                                     control_id: str) -> None:
    assert set(failing(mutate(healthy()))) == {control_id}, seeded


def test_mutations_cover_every_control() -> None:
    covered = {m[2] for m in MUTATIONS}
    assert {c.id for c in CONTROLS} - covered == {  # judged in other tests (offsite: test_offsite_checks.py,
        # signatures: test_checks_signatures.py)
        "DR-CONF-001", "DR-ARCH-001", "DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003", "DR-TRUST-001"}


def test_application_data_members_are_part_of_an_intact_archive() -> None:
    data = manifest(data=("data/hooks/shop/db-0/postgresql.dump", "data/volumes/shop/data-db-0.tar"))
    findings = evaluate_all(_inspected(data)(healthy()))
    assert findings["DR-ARCH-001"].outcome is Outcome.PASS, findings["DR-ARCH-001"].problem
    assert findings["DR-DATA-001"].outcome is Outcome.PASS
    assert "2 application data member(s), 0 failure(s)" in findings["DR-DATA-001"].evidence
    missing = dict(data, data=data["data"][:1])  # the volume's member is in the archive, not in the manifest
    failed = evaluate_all(with_files(healthy(), inspected=Inspection(ARCHIVE, missing, members_for(data), ())))
    assert "data/volumes/shop/data-db-0.tar is not listed in the manifest" in failed["DR-ARCH-001"].problem


def test_data_failures_are_named_and_bounded() -> None:
    failures = ("dump hook of pod shop/db-0 failed: " + "x" * 2000, "pod media/files-1: volume copy failed")
    finding = evaluate_all(_inspected(manifest(data_failures=failures))(healthy()))["DR-DATA-001"]
    assert finding.outcome is Outcome.FAIL
    assert finding.problem.startswith(f"{ARCHIVE} was promoted without some application data: dump hook of pod "
                                      "shop/db-0 failed: xxx")
    assert finding.problem.endswith(" (+1 more)") and len(finding.problem) < 600
    assert evaluate_all(_inspected(dict(manifest(), data_failures="oops"))(healthy()))["DR-DATA-001"].outcome \
        is Outcome.FAIL


def test_tampered_archive_fails_integrity_and_both_links() -> None:
    tampered = archive(sha256="00" * 32)
    facts = with_files(healthy(), archives=(tampered,), newest_verified=None)
    assert {"DR-ARCH-001", "DR-LINK-001", "DR-LINK-003", "DR-BKP-004"} <= set(failing(facts))
    assert "changed after verification" in failing(facts)["DR-LINK-003"]


def test_member_checksum_mismatch_is_an_integrity_failure() -> None:
    data = manifest()
    members = members_for(data)
    members["resources/configmaps.yaml"] = {"sha256": "99" * 32, "bytes": 10}
    facts = with_files(healthy(), inspected=Inspection(ARCHIVE, data, members, ()))
    assert set(failing(facts)) == {"DR-ARCH-001"}
    assert "resources/configmaps.yaml" in failing(facts)["DR-ARCH-001"]


def test_unknown_format_version_is_an_integrity_failure() -> None:
    data = dict(manifest(), format_version=3)
    facts = with_files(healthy(), inspected=Inspection(ARCHIVE, data, members_for(data), ()))
    assert set(failing(facts)) == {"DR-ARCH-001"}


def test_application_data_members_and_the_repository_key_are_listed_members() -> None:
    data = dict(manifest(), format_version=2,
                data=[{"path": "data/hooks/a/b/c.dump", "sha256": "11" * 32, "bytes": 3},
                      {"path": "data/volumes/a/v.dir", "store": "restic", "sha256": "22" * 32, "bytes": 9}],
                data_repository={"key_path": "data/repository.key", "key_sha256": "33" * 32, "key_bytes": 65})
    members = {**members_for(data), "data/hooks/a/b/c.dump": {"sha256": "11" * 32, "bytes": 3},
               "data/repository.key": {"sha256": "33" * 32, "bytes": 65}}
    facts = with_files(healthy(), inspected=Inspection(ARCHIVE, data, members, ()))
    assert "DR-ARCH-001" not in failing(facts)
    members["data/repository.key"] = {"sha256": "44" * 32, "bytes": 65}
    facts = with_files(healthy(), inspected=Inspection(ARCHIVE, data, members, ()))
    assert "data/repository.key" in failing(facts)["DR-ARCH-001"]


def test_masked_unit_details_are_not_applicable_not_failed() -> None:
    facts = with_unit(healthy(), UNITS.auto_restore, load_state="masked", unit_file_state="masked")
    outcomes = {cid: f.outcome for cid, f in evaluate_all(facts).items()}
    for cid in ("DR-RESTORE-002", "DR-RESTORE-003", "DR-RESTORE-004"):
        assert outcomes[cid] is Outcome.NOT_APPLICABLE


def test_snapshot_missing_makes_its_target_check_not_applicable() -> None:
    facts = with_stat(healthy(), PathFacts(LAYOUT.snapshot_link))
    assert evaluate_all(facts)["DR-LINK-003"].outcome is Outcome.NOT_APPLICABLE


def test_host_without_k3s_server_skips_server_controls() -> None:
    facts = healthy()
    for p in (LAYOUT.server_dir, LAYOUT.sqlite_db, LAYOUT.token):
        facts = with_stat(facts, PathFacts(p))
    facts = with_unit(facts, UNITS.k3s, load_state="not-found", unit_file_state="")
    outcomes = {cid: f.outcome for cid, f in evaluate_all(facts).items()}
    assert outcomes["DR-K3S-001"] is outcomes["DR-K3S-002"] is outcomes["DR-ARCH-003"] is Outcome.NOT_APPLICABLE


def test_backup_never_run_by_systemd_is_not_a_failure() -> None:
    facts = with_unit(healthy(), UNITS.backup, exec_main_start=None, result="success")
    finding = evaluate_all(facts)["DR-TIMER-002"]
    assert finding.outcome is Outcome.PASS and "not run by systemd yet" in finding.evidence


def test_config_problem_fails_the_config_control() -> None:
    facts = dataclasses.replace(healthy(), config_problem="config key 'backup.keep' has value 0")
    assert failing(facts) == {"DR-CONF-001": "config key 'backup.keep' has value 0"}


def test_fresh_metrics_pass() -> None:
    facts = with_file_content(healthy(), LAYOUT.config.metrics.textfile,
                              f"# HELP x\nk3s_dr_backup_last_success_timestamp_seconds {NOW - 60}\n")
    assert evaluate_all(facts)["DR-METRICS-001"].outcome is Outcome.PASS


def test_active_waiver_keeps_waivers_control_passing() -> None:
    facts = _waivers(Waiver("DR-LOG-002", "accepted for the migration", date(2027, 2, 1)))(healthy())
    assert "DR-WAIVER-001" not in failing(facts)
    assert facts.waivers.active("DR-LOG-002", facts.files.host_today) is not None


def _exporter_unwanted(facts: HostFacts) -> HostFacts:
    config = dataclasses.replace(facts.layout.config,
                                 units=dataclasses.replace(facts.layout.config.units, exporter=False))
    return dataclasses.replace(facts, layout=dataclasses.replace(facts.layout, config=config))


def test_without_the_exporter_service_its_state_is_not_judged() -> None:
    facts = with_unit(_exporter_unwanted(healthy()), EXPORTER_UNIT, load_state="not-found", unit_file_state="",
                      active_state="inactive", exec_paths=())
    facts = with_files(facts, scrape={"status": None, "body": None, "error": "ConnectionRefusedError"})
    findings = evaluate_all(facts)
    assert findings["DR-METRICS-003"].outcome is Outcome.NOT_APPLICABLE
    assert "units.exporter is false" in findings["DR-METRICS-003"].evidence
    assert findings["DR-METRICS-002"].outcome is Outcome.NOT_APPLICABLE  # checks.metrics: auto, nothing answers
    assert "DR-UNIT-002" not in failing(facts) and "DR-UNIT-001" not in failing(facts)


def test_a_stopped_exporter_service_leaves_its_answers_unjudged() -> None:
    facts = with_unit(healthy(), EXPORTER_UNIT, active_state="failed", sub_state="failed", result="exit-code")
    facts = with_files(facts, scrape={"status": None, "body": None, "error": "ConnectionRefusedError"})
    findings = evaluate_all(facts)
    assert findings["DR-METRICS-002"].outcome is Outcome.NOT_APPLICABLE
    assert "see DR-METRICS-003" in findings["DR-METRICS-002"].evidence
    assert "is failed (failed)" in findings["DR-METRICS-003"].problem


# (case, how the backup directory looks, DR-LINK-004's outcome, a fragment of what it says)
USER_OBJECT_CASES: list[tuple[str, Callable[[HostFacts], HostFacts], Outcome, str]] = [
    ("snapshot with user objects", lambda f: f, Outcome.PASS, "28 user objects"),
    ("wiped snapshot, an older archive holds 28", lambda f: _wiped_snapshot(f, older_users=28), Outcome.FAIL,
     f"while the older {OLDER} holds 28"),
    ("empty cluster all along", lambda f: _wiped_snapshot(f, older_users=0), Outcome.PASS, "an empty cluster"),
    ("older archive verified before counts were recorded", lambda f: _wiped_snapshot(f, older_users=None),
     Outcome.PASS, "no older archive holds any"),
    ("older archive never verified", lambda f: _wiped_snapshot(f, older_users=5, older_verified=False),
     Outcome.PASS, "no older archive holds any"),
    ("snapshot verified before counts were recorded", lambda f: _wiped_snapshot(f, older_users=5,
                                                                                snapshot_users=None),
     Outcome.NOT_APPLICABLE, "k3s-dr verify"),
    ("snapshot link missing", lambda f: with_stat(f, PathFacts(LAYOUT.snapshot_link)), Outcome.NOT_APPLICABLE,
     "DR-LINK-002"),
    ("snapshot on a changed archive", lambda f: with_files(f, archives=(archive(sha256="00" * 32),)),
     Outcome.NOT_APPLICABLE, "DR-LINK-003"),
]


@pytest.mark.parametrize(("mutate", "outcome", "says"), [c[1:] for c in USER_OBJECT_CASES],
                         ids=[c[0] for c in USER_OBJECT_CASES])
def test_snapshot_user_objects_against_older_archives(mutate: Callable[[HostFacts], HostFacts], outcome: Outcome,
                                                      says: str) -> None:
    finding = evaluate_all(mutate(healthy()))["DR-LINK-004"]
    assert finding.outcome is outcome, finding
    assert says in f"{finding.problem} {finding.evidence}"


# (case, the planted snapshot link, what DR-LINK-003 says): the refusals of restore --auto, judged beforehand
AUTO_RESTORE_REFUSALS: list[tuple[str, Callable[[HostFacts], HostFacts], str]] = [
    ("outside the backup directory", lambda f: with_stat(f, dataclasses.replace(
        link(LAYOUT.snapshot_link, f"/srv/planted/{ARCHIVE}"), resolved=f"/srv/planted/{ARCHIVE}")),
     "refuses a target outside the backup directory"),
    ("another archive's record", lambda f: _planted_copy(f, "k3s-dr-20270115T000000Z.tar.gz"),
     f"its verification record is for '{ARCHIVE}'"),
    ("not named like an archive", lambda f: _planted_copy(f, "k3s-dr-x.tar.gz"), "not named like a k3s-dr archive"),
    ("changed since verified (size)", lambda f: with_files(f, archives=(archive(size=60001),)),
     "its verification record says 60000"),
]


@pytest.mark.parametrize(("mutate", "says"), [c[1:] for c in AUTO_RESTORE_REFUSALS],
                         ids=[c[0] for c in AUTO_RESTORE_REFUSALS])
def test_snapshot_link_control_says_what_auto_restore_would_refuse(mutate: Callable[[HostFacts], HostFacts],
                                                                  says: str) -> None:
    finding = evaluate_all(mutate(healthy()))["DR-LINK-003"]
    assert finding.outcome is Outcome.FAIL and says in finding.problem, finding
