"""The state file and the textfile: atomic, locked, readable by node_exporter, robust to damage."""

from __future__ import annotations

import json
import stat
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dr_lib.config import load_config
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from dr_lib.metrics import (
    BackupRecord,
    DecisionRecord,
    DrillRecord,
    RestoreRecord,
    State,
    record_auto_restore,
    record_backup,
    record_drill,
    record_restore,
)
from dr_lib.metrics.files import atomic_write_text, locked
from dr_lib.metrics.statefile import read_state, update_state
from tests.unit._metrics_inputs import full_state


def config_for(tmp_path, textfile_dir_exists=True):
    textfile_dir = tmp_path / "textfile_collector"
    if textfile_dir_exists:
        textfile_dir.mkdir()
    env = {"K3S_DR_METRICS_STATE_FILE": str(tmp_path / "state" / "metrics.json"),
           "K3S_DR_METRICS_TEXTFILE": str(textfile_dir / "k3s_dr.prom"),
           "K3S_DR_BACKUP_DIR": str(tmp_path / "backups")}
    return load_config(None, env=env)


def test_state_round_trips():
    state = full_state()
    assert State.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "unreadable"),
    ('{"format": "something-else"}', "not a k3s-dr metrics state"),
    ('{"format": "k3s-dr-metrics-state", "version": 99}', "version 99"),
    ('{"format": "k3s-dr-metrics-state", "version": 1, "backup": {"at": "yesterday", "status": "success"}}',
     "BackupRecord.at"),
    ('{"format": "k3s-dr-metrics-state", "version": 1, "backup": {"at": 1, "status": "success", "extra": 1}}',
     "unexpected keyword"),
])
def test_a_damaged_state_is_a_clear_problem_and_the_next_update_replaces_it(tmp_path, content, why):
    path = tmp_path / "metrics.json"
    path.write_text(content)
    with pytest.raises(EnvironmentProblem, match=why):
        read_state(path)
    new, warning = update_state(path, lambda s: s.with_drill(DrillRecord(at=5.0, passed=True)))
    assert warning is not None and "starting a new one" in warning
    assert read_state(path) == new


def test_records_accumulate_so_every_writer_emits_the_full_set(tmp_path):
    config = config_for(tmp_path)
    assert record_backup(config, BackupRecord(at=10.0, status="success", seconds=1.5, kinds={"configmaps": 3})) == []
    assert record_restore(config, RestoreRecord(at=20.0, complete=False, outcome="partial", seconds=3.0,
                                                counts={"created": 2, "failed": 1})) == []
    assert record_auto_restore(config, DecisionRecord(at=30.0, restore=False, reason="healthy"), None) == []
    assert record_drill(config, DrillRecord(at=40.0, passed=True, rto_seconds=33.0, rpo_seconds=5.0)) == []
    state = read_state(tmp_path / "state" / "metrics.json")
    assert state.backup is not None and state.backup.seconds == 1.5
    assert state.restore is not None and state.restore.outcome == "partial"
    assert state.decisions == {"restore": 0, "no_restore": 1, "refused": 0}
    assert state.drill is not None and state.drill.rto_seconds == 33.0
    textfile = tmp_path / "textfile_collector" / "k3s_dr.prom"
    text = textfile.read_text()
    emitted = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert emitted["k3s_dr_backup_last_status"] == 1
    assert emitted["k3s_dr_restore_last_status"] == 0
    assert emitted["k3s_dr_drill_last_rto_seconds"] == 33
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644  # node_exporter runs as another user
    assert [p.name for p in textfile.parent.iterdir()] == ["k3s_dr.prom"]  # no temp file left


def test_no_textfile_without_a_textfile_collector_directory(tmp_path):
    config = config_for(tmp_path, textfile_dir_exists=False)
    assert record_backup(config, BackupRecord(at=10.0, status="failed")) == []
    assert not (tmp_path / "textfile_collector").exists()
    assert read_state(tmp_path / "state" / "metrics.json").backup is not None


def test_recording_never_raises_it_warns(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = load_config(None, env={"K3S_DR_METRICS_STATE_FILE": str(blocker / "metrics.json")})
    warnings = record_backup(config, BackupRecord(at=1.0, status="success"))
    assert len(warnings) == 1 and "metrics not recorded" in warnings[0]


def test_concurrent_updates_lose_nothing(tmp_path):
    path = tmp_path / "metrics.json"

    def decide(n):
        for _ in range(10):
            update_state(path, lambda s: s.with_decision(DecisionRecord(at=float(n), restore=n % 2 == 0)))

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(read_state(path).decisions.values()) == 40


def test_a_held_lock_is_waited_for_with_a_deadline(tmp_path):
    path = tmp_path / "metrics.json"
    with locked(path), pytest.raises(DeadlineExceeded, match="stayed locked"), locked(path, timeout=0.2):
        pytest.fail("a second holder got the lock")


def test_atomic_write_replaces_whole_files_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "k3s_dr.prom"
    atomic_write_text(target, "old\n")
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    with pytest.raises(EnvironmentProblem, match="cannot write"):
        atomic_write_text(tmp_path / "missing-dir" / "x.prom", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k3s_dr.prom"]


def test_a_refused_snapshot_is_counted_as_a_decision_of_its_own(tmp_path):
    config = config_for(tmp_path)
    refused = DecisionRecord(at=50.0, restore=False, reason="resolves outside the backup directory", refused=True)
    assert record_auto_restore(config, refused, None) == []
    assert record_auto_restore(config, DecisionRecord(at=60.0, restore=True, reason="lost"), None) == []
    state = read_state(tmp_path / "state" / "metrics.json")
    assert state.decisions == {"restore": 1, "no_restore": 0, "refused": 1}
    text = (tmp_path / "textfile_collector" / "k3s_dr.prom").read_text()
    emitted = {(s.name, s.labels.get("decision")): s.value for f in text_string_to_metric_families(text)
               for s in f.samples}
    assert emitted[("k3s_dr_auto_restore_decisions_total", "refused")] == 1
