"""``k3s-dr metrics`` and the jobs' recording hooks (the conversions from the features' results)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from dr_lib.cli.common import REPORTER
from dr_lib.cli.main import main
from dr_lib.config import load_config
from dr_lib.errors import ClusterUnreachable
from dr_lib.jobs import record
from dr_lib.jobs.report import Collected
from dr_lib.metrics.statefile import read_state


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"backup:\n  dir: {tmp_path / 'backups'}\nrestore:\n  state_dir: {tmp_path / 'state'}\n"
                      f"metrics:\n  prefix: insightlearn_dr_\n  textfile: {tmp_path / 'tf' / 'k3s_dr.prom'}\n")
    return config


def test_metrics_prints_writes_and_lists(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "metrics"]) == 0
    printed = capsys.readouterr().out
    assert {f.name for f in text_string_to_metric_families(printed)} >= {"insightlearn_dr_drill_last_timestamp_seconds"}
    assert main(["--config", str(config), "metrics", "--write", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["textfile"] == str(tmp_path / "tf" / "k3s_dr.prom") and result["samples"] > 5
    assert (tmp_path / "tf" / "k3s_dr.prom").read_text().count("insightlearn_dr_") > 5
    assert main(["--config", str(config), "metrics", "--names"]) == 0
    listed = capsys.readouterr().out.split()
    assert "insightlearn_dr_next_backup_seconds" in listed and len(listed) == 36


def fake_backup_result(archive: Path, promoted: bool = True):
    """A stand-in with BackupResult's fields (named as such: the hook only reads them)."""
    return SimpleNamespace(archive=archive, promoted=promoted, seconds=2.5, objects=4, kinds={"configmaps": 4},
                           bytes=1234, verified=True, datastore=None,
                           not_promoted_reason=None if promoted else "shrunk")


def test_backups_are_recorded_only_for_the_configured_directory(tmp_path, capsys):
    config = load_config(write_config(tmp_path))
    state_file = tmp_path / "state" / "metrics-state.json"
    said = Collected()
    record.backup_done(config, fake_backup_result(tmp_path / "elsewhere" / "k3s-dr-x.tar.gz"), said)
    assert not state_file.exists()
    record.backup_done(config, fake_backup_result(tmp_path / "backups" / "k3s-dr-x.tar.gz", promoted=False), said)
    state = read_state(state_file)
    assert state.backup is not None and state.backup.status == "not_promoted" and state.backup.error == "shrunk"
    record.backup_failed(config, ClusterUnreachable("API server down"), None, said)
    state = read_state(state_file)
    assert state.backup is not None and state.backup.status == "failed" and "API server down" in state.backup.error
    assert said == Collected() and capsys.readouterr().err == ""


def test_restore_hooks_skip_dry_runs_and_record_errors(tmp_path):
    config = load_config(write_config(tmp_path))
    state_file = tmp_path / "state" / "metrics-state.json"
    record.restore_failed(config, ClusterUnreachable("gone"), Collected(), dry_run=True)
    assert not state_file.exists()
    record.restore_failed(config, ClusterUnreachable("gone"), Collected())
    restore = read_state(state_file).restore
    assert restore is not None and not restore.complete and restore.outcome == "error"


def test_a_datastore_restore_is_recorded_as_a_complete_restore(tmp_path):
    config = load_config(write_config(tmp_path))
    record.datastore_restore_done(config, tmp_path / "backups" / "k3s-dr-20261128T000000Z.tar.gz", 12.5, Collected())
    restore = read_state(tmp_path / "state" / "metrics-state.json").restore
    assert restore is not None and restore.complete and restore.outcome == "complete"
    assert (restore.seconds, restore.archive, dict(restore.counts)) == (12.5, "k3s-dr-20261128T000000Z.tar.gz", {})


def test_a_recording_problem_is_a_warning_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = load_config(None, env={"K3S_DR_RESTORE_STATE_DIR": str(blocker)})
    said = Collected()
    record.restore_failed(config, ClusterUnreachable("gone"), said)
    assert len(said.warnings) == 1 and said.warnings[0].startswith("metrics not recorded:")
    record.restore_failed(config, ClusterUnreachable("gone"), REPORTER)  # the CLI's reporter: one line on stderr
    assert capsys.readouterr().err.startswith("k3s-dr: warning: metrics not recorded:")
