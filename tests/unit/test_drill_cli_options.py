"""`k3s-dr drill` refuses bad requests before starting anything, with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.cli.main import main
from dr_lib.drill.commands import CommandRun, _last_json_object, run_k3s_dr
from dr_lib.errors import ExitCode


@pytest.mark.parametrize(("args", "message"), [
    (["--cluster", "kubeconfig", "--destroy", "fresh", "--kubeconfig", "/k"], "cannot make a fresh target cluster"),
    (["--wait-timeout", "soon"], "Invalid value for '--wait-timeout': 'soon' is not a duration: accepted is"),
    (["--wait-timeout", "0s"], "'0s' is no length of time"),
    (["--cluster", "openstack"], "Invalid value for '--cluster'"),
    (["--cluster", "kubeconfig", "--kubeconfig", "/k"],
     "config names none for the drill's pods (app: Deployment insightlearn/web"),
    (["--archive", "/nonexistent/k3s-dr-x.tar.gz"], "--archive '/nonexistent/k3s-dr-x.tar.gz': no such file"),
    (["--archive", "/dev/null"], "is not a regular file"),
    (["--archive", "latest"], "does not exist"),
    (["--archive", "/etc/hostname", "--from", "lab"], "both --archive and --from"),
    (["--from", "lab", "--destroy", "wipe"], "--destroy does not apply to a drill of a real archive"),
    (["--nodes", "0"], "--nodes 0 leaves the cluster without a node"),
])
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("K3S_DR_CONFIG", "/dev/null")
    monkeypatch.setenv("K3S_DR_BACKUP_DIR", str(tmp_path / "backups"))
    assert main(["drill", "--reports", str(tmp_path), *args]) == ExitCode.USAGE
    assert message in capsys.readouterr().err
    assert not list(Path(str(tmp_path)).glob("*T*Z-*")), "refused before a report directory was made"


def test_help_names_the_json_interface(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--help"]) == ExitCode.OK
    out = " ".join(capsys.readouterr().out.split())
    assert "--archive PATH|latest" in out and "--from REMOTE[:NAME]" in out
    assert "the real node alone" in out


def test_command_results_are_read_from_the_last_json_line() -> None:
    assert _last_json_object('progress\n{"a": 1}\n{"archive": "x"}\n') == {"archive": "x"}
    assert _last_json_object('{\n  "pretty": true\n}') == {"pretty": True}
    assert _last_json_object("no json at all") is None


def test_a_failed_command_says_how_in_one_line() -> None:
    run = CommandRun(("restore", "a.tar.gz"), 3, None, "working\nk3s-dr: error: restore partial: 2 failed\n", 1.0)
    assert run.failure() == "`k3s-dr restore a.tar.gz` exited 3: k3s-dr: error: restore partial: 2 failed"
    assert not run.ok and run.to_json()["exit_code"] == 3


def test_run_k3s_dr_runs_the_real_cli_as_a_process() -> None:
    run = run_k3s_dr(["--version"], env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert run.ok and run.result is None and run.command_line == "k3s-dr --version"


def test_the_drills_commands_write_nothing_of_the_hosts(tmp_path: object) -> None:
    """Backups, locks, logs, restore state and metrics of a drill stay in its work directory."""
    from dr_lib.config import load_config  # noqa: PLC0415
    from dr_lib.drill.run import DrillSettings, command_env  # noqa: PLC0415

    work = Path(str(tmp_path))
    config = load_config("/dev/null", env=command_env(DrillSettings(), work, base={}))
    written = [config.backup.dir, config.backup.lock_file, config.backup.log_file, config.restore.state_dir,
               config.metrics.textfile, config.metrics.state_file]
    assert all(Path(path).is_relative_to(work) for path in written), written
    # whatever the operator's config says, a drill's restore never moves a directory of this machine aside
    replacing = command_env(DrillSettings(), work, base={"K3S_DR_HOOKS_RESTORE_VOLUMES": "replace"})
    assert load_config("/dev/null", env=replacing).hooks.restore_volumes == "keep-existing"


def test_the_drill_job_builds_an_archive_drills_settings(tmp_path: Path) -> None:
    """The job (no CLI) resolves --archive, passes --from, the images and the age identity on."""
    from dr_lib.config import config_from_text  # noqa: PLC0415
    from dr_lib.jobs.drill import DrillOptions, settings  # noqa: PLC0415

    archive = tmp_path / "k3s-dr-20261128T100000Z.tar.gz"
    archive.write_bytes(b"not read here")
    (tmp_path / "latest-backup.tar.gz").symlink_to(archive.name)
    config = config_from_text(f"backup:\n  dir: {tmp_path}\noffsite:\n  identity_file: /etc/k3s-dr/age.key\n"
                              "drill:\n  images:\n    app: mirror.internal/python:3.11\n", "test.yaml")
    made = settings(config, DrillOptions(archive="latest"), None)
    assert made.archive == archive and made.of_archive and made.subject == f"archive {archive.name}"
    assert made.identity_file == Path("/etc/k3s-dr/age.key") and made.images["app"] == "mirror.internal/python:3.11"
    pulled = settings(config, DrillOptions(from_remote="lab:k3s-dr-x.tar.gz"), None)
    assert pulled.from_remote == "lab:k3s-dr-x.tar.gz" and pulled.subject == "archive from offsite lab:k3s-dr-x.tar.gz"
    assert settings(config, DrillOptions(), None).subject == "destroy fresh"
