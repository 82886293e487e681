"""``k3s-dr metrics`` and the jobs' recording hooks (the conversions from the features' results)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
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
    assert "insightlearn_dr_next_backup_seconds" in listed and len(listed) == 40


def empty_config(tmp_path: Path) -> Path:
    config = tmp_path / "empty.yaml"
    config.write_text("")
    return config


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


def test_render_writes_the_three_assets_for_the_prefix_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("K3S_DR_METRICS_PREFIX", "insightlearn_dr_")
    monkeypatch.setenv("K3S_DR_METRICS_JOB", "dr-exporter")
    assert main(["--config", str(empty_config(tmp_path)), "metrics", "render", "--dir", str(tmp_path / "out"),
                 "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert set(written) == {"dashboard", "alerts", "alert_tests"}
    assert written["dashboard"] == str(tmp_path / "out" / "dr-dashboard.json")
    rules = Path(written["alerts"]).read_text()
    assert "insightlearn_dr_backup_last_success_timestamp_seconds" in rules and "k3s_dr_" not in rules
    assert 'up{job="dr-exporter"}' in rules
    dashboard = json.loads(Path(written["dashboard"]).read_text())
    assert dashboard["title"] == "Disaster Recovery & Backups"
    assert "insightlearn_dr_" in json.dumps(dashboard) and "k3s_dr_" not in json.dumps(dashboard)
    assert Path(written["alert_tests"]).read_text().count("insightlearn_dr_") > 20


def test_render_without_the_sdk_fails_with_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "grafana_foundation_sdk", None)  # a fake: the import now fails as if absent
    code = main(["--config", str(empty_config(tmp_path)), "metrics", "render", "--dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 7
    assert len(err.splitlines()) == 1 and "k3s-dr[monitoring]" in err and "grafana-foundation-sdk" in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_render_into_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["--config", str(empty_config(tmp_path)), "metrics", "render", "--dir", str(blocker / "sub")])
    assert code == 7 and "cannot write" in capsys.readouterr().err


def test_the_metrics_options_do_not_mix_with_a_subcommand(tmp_path, capsys):
    code = main(["--config", str(empty_config(tmp_path)), "metrics", "--write", "render", "--dir", str(tmp_path)])
    assert code == 2 and "options of `k3s-dr metrics` itself" in capsys.readouterr().err


def test_record_drill_records_a_ci_drill_and_leaves_out_an_older_one(tmp_path, capsys):
    config = write_config(tmp_path)
    (tmp_path / "tf").mkdir()
    finished = datetime.now(UTC) - timedelta(days=3)
    evidence = {"format": "k3s-dr-drill-evidence", "format_version": 1, "drill_id": "ci0001", "verdict": "pass",
                "finished": finished.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "failed_step": None,
                "rto_seconds": 41.0, "rpo_seconds": 9.5, "targets": {"rto_seconds": 900, "rpo_seconds": 3600}}
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(evidence))
    assert main(["--config", str(config), "metrics", "record-drill", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"recorded": True, "drill_id": "ci0001",
                                                   "finished": int(finished.timestamp()), "verdict": "pass"}
    drill = read_state(tmp_path / "state" / "metrics-state.json").drill
    assert drill is not None and drill.drill_id == "ci0001" and drill.rto_seconds == 41.0
    written = {s.name: s.value for f in text_string_to_metric_families((tmp_path / "tf" / "k3s_dr.prom").read_text())
               for s in f.samples}
    assert written["insightlearn_dr_drill_last_timestamp_seconds"] == int(finished.timestamp())
    assert written["insightlearn_dr_drill_last_rto_seconds"] == 41.0
    older = {**evidence, "drill_id": "ci0000", "finished": (finished - timedelta(days=30)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")}
    path.write_text(json.dumps(older))
    assert main(["--config", str(config), "metrics", "record-drill", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recorded"] is False
    assert read_state(tmp_path / "state" / "metrics-state.json").drill.drill_id == "ci0001"


def test_record_drill_refuses_a_hostile_file_with_exit_2(tmp_path, capsys):
    config = write_config(tmp_path)
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({"format": "k3s-dr-drill-evidence", "format_version": 1, "verdict": "maybe"}))
    assert main(["--config", str(config), "metrics", "record-drill", str(path)]) == 2
    assert "verdict" in capsys.readouterr().err
    assert not (tmp_path / "state" / "metrics-state.json").exists()
