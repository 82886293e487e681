"""The record of the last push per target: built from a push report, written atomically into the
state directory, a failure never erasing the last success, a damaged record replaced with a warning."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from dr_lib.checks.pushstate import PUSH_STATE_NAME, parse_push_state
from dr_lib.config import Config, config_from_text
from dr_lib.errors import RemoteUnreachable
from dr_lib.offsite.history import failed_attempts, record_attempts, report_attempts
from dr_lib.offsite.model import LocalArchive, PushOutcome
from dr_lib.offsite.push import PushReport, RetentionResult, TargetReport

ARCHIVE = LocalArchive(Path("/b/k3s-dr-20270115T075000Z.tar.gz"), "ab" * 32, 1000, 6,
                       datetime(2027, 1, 15, 7, 50, tzinfo=UTC))


def config(state_dir: Path) -> Config:
    return config_from_text(f"restore: {{state_dir: {state_dir}}}", "test")


def report() -> PushReport:
    pushed = PushOutcome("lab", "s3", ARCHIVE.name, f"k3s-dr/{ARCHIVE.name}.age", "pushed", 1200, 1200, 0.8, True)
    kept = RetentionResult("lab", ("k3s-dr-20270101T000000Z.tar.gz",), (),
                           (ARCHIVE.name, "k3s-dr-20270114T000000Z.tar.gz"))
    return PushReport(ARCHIVE, (
        TargetReport("lab", pushed, retention=kept, seconds=1.25, remote_good=2),
        TargetReport("home", error=RemoteUnreachable("offsite target 'home': the server could not be reached"),
                     seconds=0.5),
    ))


def test_a_push_is_recorded_per_target(tmp_path: Path) -> None:
    cfg = config(tmp_path / "state")
    assert record_attempts(cfg, report_attempts(report(), at=1000.0, trigger="backup", backup_ok=True)) == []
    path = tmp_path / "state" / PUSH_STATE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    record = parse_push_state(path.read_text())
    lab, home = record["lab"], record["home"]
    assert lab.last == lab.last_success
    assert (lab.last.ok, lab.last.action, lab.last.encrypted, lab.last.verified, lab.last.remote_good,
            lab.last.retention, lab.last.bytes_sent, lab.last.trigger) == (True, "pushed", True, True, 2, "applied",
                                                                           1200, "backup")
    assert home.last_success is None and home.last.ok is False and home.last.exit_code == 7
    assert "could not be reached" in home.last.error


def test_a_failure_keeps_the_last_success_and_other_targets(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    record_attempts(cfg, report_attempts(report(), at=1000.0, trigger="manual"))
    error = RemoteUnreachable("offsite target 'lab': the server could not be reached")
    record_attempts(cfg, failed_attempts(["lab"], ARCHIVE.name, error, at=2000.0, trigger="manual"))
    record = parse_push_state((tmp_path / PUSH_STATE_NAME).read_text())
    assert record["lab"].last.ok is False and record["lab"].last.at == 2000.0
    assert record["lab"].last_success is not None and record["lab"].last_success.at == 1000.0
    assert record["home"].last.at == 1000.0  # untouched by a push to lab only


def test_a_damaged_record_is_replaced_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / PUSH_STATE_NAME).write_text("{half a record")
    warnings = record_attempts(config(tmp_path), report_attempts(report(), at=1.0, trigger="manual"))
    assert len(warnings) == 1 and "is unreadable" in warnings[0] and "starting a new one" in warnings[0]
    assert set(parse_push_state((tmp_path / PUSH_STATE_NAME).read_text())) == {"lab", "home"}


def test_an_unwritable_state_dir_is_a_warning_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    warnings = record_attempts(config(blocker / "state"), report_attempts(report(), at=1.0, trigger="manual"))
    assert any("cannot write the offsite push record" in w for w in warnings), warnings
