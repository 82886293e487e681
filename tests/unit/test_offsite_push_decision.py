"""The push after a backup: when it runs (config, --push/--no-push, promoted, backup.dir), how its
result and failure read, the setting in the config and environment, the backup unit's deadline,
and the drill keeping its throwaway backups away from the operator's targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.backup.result import BackupResult
from dr_lib.config import Config, config_from_text, load_config
from dr_lib.drill.run import DrillSettings, command_env
from dr_lib.errors import ConfigError, LockBusy, UsageError
from dr_lib.host.units import render_backup_service
from dr_lib.jobs.autopush import AfterBackup, check_choice, failure, summary, wanted

TARGETS = "offsite: {targets: {lab: {bucket: dr-copies}, home: {type: restic, repository: /srv/r, " \
          "password_file: /etc/k3s-dr/restic.pass, timeout: 10m}}}"


def result(*, promoted: bool = True, directory: str = "/var/backups/k3s-cluster") -> BackupResult:
    return BackupResult(Path(directory) / "k3s-dr-20270115T075000Z.tar.gz", "2027-01-15T07:50:00Z", 6, {}, 100,
                        "ab" * 32, 1.0, True, promoted, {})


def config(text: str = TARGETS, **env: str) -> Config:
    return config_from_text(text, "test", env=env)


@pytest.mark.parametrize(("case", "cfg", "choice", "res", "expected"), [
    ("targets configured: pushed by default", config(), None, result(), True),
    ("no targets: nothing to push to", config("{}"), None, result(), False),
    ("switched off in the config", config(K3S_DR_OFFSITE_PUSH_AFTER_BACKUP="false"), None, result(), False),
    ("--push overrides the config", config(K3S_DR_OFFSITE_PUSH_AFTER_BACKUP="false"), True, result(), True),
    ("--no-push overrides the config", config(), False, result(), False),
    ("an ad-hoc --dir is not this host's backup", config(), None, result(directory="/tmp/one-off"), False),
    ("--push insists for an ad-hoc --dir", config(), True, result(directory="/tmp/one-off"), True),
    ("not promoted: never pushed", config(), None, result(promoted=False), False),
    ("not promoted: not even with --push", config(), True, result(promoted=False), False),
])
def test_when_the_push_runs(case: str, cfg: Config, choice: bool | None, res: BackupResult,
                            expected: bool) -> None:
    assert wanted(cfg, choice, res) is expected, case


def test_push_without_targets_is_refused_before_the_backup() -> None:
    with pytest.raises(UsageError, match="--push was given but no offsite targets are configured"):
        check_choice(config("{}"), True)
    check_choice(config("{}"), None)
    check_choice(config("{}"), False)
    check_choice(config(), True)


def test_a_push_that_could_not_start_reads_as_one_failure() -> None:
    busy = AfterBackup(error=LockBusy("cannot push offsite: pid 7 (push offsite) holds the lock"))
    assert busy.to_dict() == {"ok": False, "error": "cannot push offsite: pid 7 (push offsite) holds the lock",
                              "exit_code": 5, "targets": []}
    assert failure(busy) == "its offsite push failed: cannot push offsite: pid 7 (push offsite) holds the lock"
    assert summary(busy).strip().startswith("offsite  NOT pushed:")
    assert failure(None) == "" and summary(None) == ""


def test_the_setting_and_its_environment_spellings() -> None:
    assert Config().offsite.push_after_backup is True
    for text, expected in (("false", False), ("no", False), ("0", False), ("off", False), ("TRUE", True),
                           ("yes", True)):
        assert config("{}", K3S_DR_OFFSITE_PUSH_AFTER_BACKUP=text).offsite.push_after_backup is expected
    with pytest.raises(ConfigError) as caught:
        config("{}", K3S_DR_OFFSITE_PUSH_AFTER_BACKUP="sometimes")
    assert caught.value.key == "offsite.push_after_backup" and "true" in caught.value.accepted
    with pytest.raises(ConfigError):
        config("offsite: {push_after_backup: 'later'}")
    assert config("offsite: {push_after_backup: no}").offsite.push_after_backup is False  # YAML's booleans


def test_unquoted_off_in_yaml_means_off() -> None:
    """YAML 1.1 reads `encrypt: off` as false; the documented spelling must work as written."""
    assert config("offsite: {encrypt: off}\nchecks: {metrics: off}").offsite.encrypt == "off"
    assert config("checks: {metrics: off}").checks.metrics == "off"


def test_the_backup_unit_allows_for_the_pushes_after_it() -> None:
    exe, path = "/usr/local/bin/k3s-dr", "/etc/k3s-dr/config.yaml"
    assert "TimeoutStartSec=30min\n" in render_backup_service(Config(), exe, path)
    # 30 min + the pushes (30 min + 10 min), + as long again waiting for a manual push's lock
    assert "TimeoutStartSec=6600s\n" in render_backup_service(config(), exe, path)
    off = config(K3S_DR_OFFSITE_PUSH_AFTER_BACKUP="false")
    assert "TimeoutStartSec=30min\n" in render_backup_service(off, exe, path)
    assert "backup\n" in render_backup_service(config(), exe, path)  # the same command: the config decides


def test_the_drill_never_pushes_its_throwaway_backups(tmp_path: Path) -> None:
    env = command_env(DrillSettings(), tmp_path, base={"K3S_DR_OFFSITE_PUSH_AFTER_BACKUP": "true"})
    assert load_config("/dev/null", env=env).offsite.push_after_backup is False


def test_the_summary_and_failure_of_a_push_with_one_target_down() -> None:
    from tests.unit.test_offsite_history import report  # noqa: PLC0415 - the same push report value

    pushed = AfterBackup(report())
    assert summary(pushed) == "\noffsite  lab pushed (1,200 bytes sent); home FAILED"
    assert failure(pushed) == "its offsite push failed: home: offsite target 'home': the server could not be reached"
    assert pushed.to_dict()["ok"] is False and [t["ok"] for t in pushed.to_dict()["targets"]] == [True, False]
