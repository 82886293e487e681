"""The suite as a pytest plugin, through real pytest runs: one test per control with its ID as test
id, the same suite by every door (``--pyargs``, ``-p``, ``tests/checks``), reports by default in a
check run, and nothing at all in a pytest run that is not one (a project's own tests, the drill's
in-process pytest).

This machine runs no systemd, so every control of a real run here errors at gathering ("cannot
read local: … must run systemd"): these tests judge the plugin's wiring and reports. The controls
themselves pass and fail on the reference host (tests/integration/test_reference_host_*.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dr_lib.checks.controls import BY_ID
from dr_lib.drill.runner import pytest_args as drill_pytest_args
from dr_lib.hostcheck.runner import SessionObserver
from dr_lib.reportdir import check_manifest

ROOT = Path(__file__).resolve().parents[2]
EXPLICIT_PLUGINS = ["-p", "testinfra.plugin", "-p", "pytest_metadata.plugin", "-p", "pytest_html.plugin",
                    "-p", "dr_lib.hostcheck.plugin"]
COLLECTED = re.compile(r"test_control\[(DR-[A-Z0-9]+-\d{3})-local\]")


def pytest_run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **(env or {})})


def collected(output: str) -> list[str]:
    return COLLECTED.findall(output)


def test_one_test_per_control_with_the_id_as_test_id(tmp_path: Path) -> None:
    done = pytest_run("--pyargs", "dr_lib.hostcheck", "--collect-only", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done.stdout)) == sorted(BY_ID)
    one = pytest_run("--pyargs", "dr_lib.hostcheck", "--collect-only", "-q", "-k", "DR-LINK-002", cwd=tmp_path)
    assert collected(one.stdout) == ["DR-LINK-002"], one.stdout
    assert not (tmp_path / "reports").exists(), "collecting writes no report"


@pytest.mark.parametrize(("door", "env"), [
    (["tests/checks"], {}),
    (["-p", "dr_lib.hostcheck.plugin", "--pyargs", "dr_lib.hostcheck"], {}),  # the entry point and -p: one plugin
    ([*EXPLICIT_PLUGINS, "--pyargs", "dr_lib.hostcheck"], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
], ids=["tests/checks", "-p with autoload", "-p without autoload"])
def test_every_door_collects_the_same_suite(door: list[str], env: dict[str, str]) -> None:
    done = pytest_run(*door, "--collect-only", "-q", cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done.stdout)) == sorted(BY_ID)


def junit_counts(path: Path) -> dict[str, int]:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")  # type: ignore[assignment]
    assert suite is not None
    return {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}


def test_a_check_run_writes_its_reports_by_default(tmp_path: Path) -> None:
    done = pytest_run("--pyargs", "dr_lib.hostcheck", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # no systemd here: every control errors
    [report_dir] = (tmp_path / "reports").iterdir()
    assert re.fullmatch(r"checks-\d{8}T\d{6}Z", report_dir.name)
    assert sorted(p.name for p in report_dir.iterdir()) == ["SHA256SUMS", "checks.json", "junit.xml", "report.html"]
    assert check_manifest(report_dir) == []
    results = json.loads((report_dir / "checks.json").read_text())
    assert len(results["results"]) == len(BY_ID) and results["counts"] == {"error": len(BY_ID)}
    assert "must run systemd" in results["results"][0]["problem"]
    every = len(BY_ID)
    assert junit_counts(report_dir / "junit.xml") == {"tests": every, "failures": 0, "errors": every, "skipped": 0}
    html = (report_dir / "report.html").read_text()
    assert "k3s-dr host conformance" in html and "Remediation" in html and "DR-LINK-002" in html
    assert f"reports: reports/{report_dir.name}" in done.stdout


def test_reports_go_where_asked_or_nowhere(tmp_path: Path) -> None:
    chosen = pytest_run("--pyargs", "dr_lib.hostcheck", "--dr-reports", str(tmp_path / "elsewhere"), "-k",
                        "DR-CONF-001", cwd=tmp_path)
    assert chosen.returncode == 1 and len(list((tmp_path / "elsewhere").iterdir())) == 1
    none = pytest_run("--pyargs", "dr_lib.hostcheck", "--dr-no-reports", "-k", "DR-CONF-001", cwd=tmp_path)
    assert none.returncode == 1 and not (tmp_path / "reports").exists()
    assert "k3s-dr controls" in none.stdout  # the terminal table is still shown


UNRELATED_CONFTEST = '''
def pytest_addoption(parser):
    parser.getgroup("k3s-dr", "a project's own group").addoption("--cluster", default="local")
'''


def test_an_unrelated_pytest_run_is_not_disturbed(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "conftest.py").write_text(UNRELATED_CONFTEST)
    (tmp_path / "test_app.py").write_text("def test_one(host):\n    assert host is not None\n\n"
                                          "def test_two():\n    pass\n")
    helped = pytest_run("--help", cwd=tmp_path)
    assert "--dr-reports" in helped.stdout and "--cluster" in helped.stdout  # loaded, and no option clash
    done = pytest_run("--html=own.html", "--self-contained-html", "--junitxml=own.xml", cwd=tmp_path)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()
    assert "k3s-dr controls" not in done.stdout
    assert "Severity" not in (tmp_path / "own.html").read_text()
    assert "host conformance" not in (tmp_path / "own.html").read_text()
    properties = [p.get("name") for p in ET.parse(tmp_path / "own.xml").getroot().iter("property")]
    assert "control" not in properties
    assert junit_counts(tmp_path / "own.xml")["tests"] == 2


def test_the_drills_in_process_pytest_is_not_disturbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drill runs its step module with pytest.main in its own process, as k3s-dr check does."""
    monkeypatch.chdir(tmp_path)
    steps = tmp_path / "test_unrelated_steps.py"
    steps.write_text("def test_step():\n    pass\n")
    seen = SessionObserver()
    assert pytest.main([*drill_pytest_args(steps), "--junitxml", str(tmp_path / "j.xml")], plugins=[seen]) == 0
    assert seen.session is not None, "the plugin is loaded in the drill's session too"
    assert not seen.session.active and seen.session.report_dir is None and seen.session.results == {}
    assert not (tmp_path / "reports").exists()
    assert junit_counts(tmp_path / "j.xml")["tests"] == 1
