"""``k3s-dr check`` on this machine, as a process: one JSON object whose counts are the JUnit
report's, the exit status, and each outside input fed something built to hurt.

This machine runs no systemd: every control errors at gathering here (the reference host is where
they pass: tests/integration/test_check_cli_reference_host.py). Nothing below depends on that:
the counts are compared with the run's own JUnit XML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostcheck_plugin import junit_counts

from dr_lib.checks.controls import BY_ID
from dr_lib.hostcheck.runner import CheckOptions, pytest_args
from dr_lib.reportdir import check_manifest

ROOT = Path(__file__).resolve().parents[2]
# k3s-dr's own main, with pytest-xdist made unimportable: a host without the extra k3s-dr[checks]
WITHOUT_XDIST = """
import importlib.abc, sys
class NoXdist(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "xdist" or name.startswith("xdist."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, NoXdist())
from dr_lib.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def k3s_dr(*args: str, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "dr_lib", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_json_counts_are_the_junit_counts_and_the_exit_status_follows_them(tmp_path: Path) -> None:
    done = k3s_dr("check", "--json", "--reports", str(tmp_path / "r"), cwd=tmp_path)
    data = json.loads(done.stdout)  # the whole of stdout: one object
    assert {"passed", "failed", "skipped", "report_html", "seconds", "hosts", "report_dir", "junit_xml"} <= set(data)
    junit = junit_counts(Path(data["junit_xml"]))
    assert junit["tests"] == data["passed"] + data["failed"] + data["skipped"] == len(BY_ID)
    assert (data["failed"], data["skipped"]) == (junit["failures"] + junit["errors"], junit["skipped"])
    assert done.returncode == (1 if data["failed"] else 0)
    assert data["hosts"] == ["local"] and data["seconds"] > 0
    report_dir = Path(data["report_dir"])
    assert report_dir.parent == tmp_path / "r" and Path(data["report_html"]).is_file()
    assert check_manifest(report_dir) == []
    assert "k3s-dr controls" in done.stderr  # pytest's terminal goes to stderr, stdout stays JSON


def test_without_json_one_summary_line_on_stdout(tmp_path: Path) -> None:
    done = k3s_dr("check", cwd=tmp_path)
    assert done.stdout.count("\n") == 1 and done.stdout.startswith(("PASS: ", "FAIL: ")), done.stdout
    assert "report " in done.stdout and (tmp_path / "reports").is_dir()  # the default --reports
    if done.returncode:
        assert done.stderr.strip().splitlines()[-1].startswith("k3s-dr: error: ")


def test_hostile_hosts_are_refused_before_anything_runs(tmp_path: Path) -> None:
    planted = tmp_path / "pwned"
    hostile = (f"ssh://-oProxyCommand=touch {planted}", f"docker://x;touch {planted}", f"docker://$(touch {planted})")
    for spec in hostile:
        done = k3s_dr("check", "--hosts", spec, "--json", cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
        assert done.stderr.count("\n") == 1 and "--hosts value" in done.stderr, done.stderr
    assert not planted.exists() and not (tmp_path / "reports").exists()


def test_a_hostile_config_path_is_only_ever_a_path(tmp_path: Path) -> None:
    planted = tmp_path / "pwned"
    done = k3s_dr("check", "--json", "--dr-config", f"/nonexistent'; touch {planted}; echo '", cwd=tmp_path)
    assert done.returncode in (0, 1) and json.loads(done.stdout)["passed"] >= 0
    assert not planted.exists()


def test_parallel_hosts_without_pytest_xdist_name_the_extra(tmp_path: Path) -> None:
    done = k3s_dr("check", "--workers", "2", "--hosts", "docker://a,docker://b", cwd=tmp_path, code=WITHOUT_XDIST)
    assert done.returncode == 7 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "pip install 'k3s-dr[checks]'" in done.stderr, done.stderr


def test_reports_that_cannot_be_written_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    not_a_dir = k3s_dr("check", "--reports", str(tmp_path / "file"), cwd=tmp_path)
    assert not_a_dir.returncode == 2 and "is a file" in not_a_dir.stderr
    below_a_file = k3s_dr("check", "--reports", str(tmp_path / "file" / "r"), cwd=tmp_path)
    assert below_a_file.returncode == 7 and below_a_file.stderr.count("\n") == 1, below_a_file.stderr
    assert "cannot create the reports directory" in below_a_file.stderr


def test_operator_options_reach_testinfra_and_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    """--sudo cannot be run here for real (the reference host has no sudo): what reaches pytest is checked."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    options = CheckOptions(hosts=("docker://a", "ssh://root@b"), reports_root=Path("/srv/r"),
                           config_path="/etc/k3s-dr/other.yaml", sudo=True, workers=2)
    args = pytest_args(options)
    assert Path(args[0]).name == "test_controls.py" and args[1:3] == ["-c", os.devnull]  # no cwd pytest config
    for expected in ("--sudo", "--hosts=docker://a,ssh://root@b", "--dr-config=/etc/k3s-dr/other.yaml",
                     "--dr-reports=/srv/r"):
        assert expected in args
    assert args[args.index("-n"):args.index("-n") + 4] == ["-n", "2", "--dist", "loadgroup"]
    assert "xdist.plugin" not in args
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert {"testinfra.plugin", "dr_lib.hostcheck.plugin", "xdist.plugin"} <= set(pytest_args(options))
