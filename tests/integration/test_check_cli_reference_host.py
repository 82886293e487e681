"""``k3s-dr check --hosts docker://NAME --json`` against a real reference host (systemd as PID 1,
k3s stand-in, k3s-dr installed, real backups): one JSON object whose control counts are what its
JUnit XML says, exit 0 when every control passes, 1 once a mutation makes one fail; and the suite
run by pytest through the installed plugin alone (``--pyargs dr_lib.hostcheck``, outside the
checkout), reports by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _reference_host import failing, junit_properties, reference_host, sh

from dr_lib.checks.controls import BY_ID
from dr_lib.reportdir import check_manifest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
SNAPSHOT = "/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    with reference_host("k3sdr-check") as started:
        yield started


def check(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "dr_lib", "check", "--json", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)
    try:
        return done, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"stdout is not one JSON object: {done.stdout!r} {done.stderr}") from None


def junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    return {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}


def assert_counts_are_junits(data: dict[str, Any]) -> dict[str, int]:
    junit = junit_counts(Path(data["junit_xml"]))
    assert junit["tests"] == data["passed"] + data["failed"] + data["skipped"] == len(BY_ID), (junit, data)
    assert data["failed"] == junit["failures"] + junit["errors"] and data["skipped"] == junit["skipped"], (junit, data)
    return junit


def test_healthy_host_passes_with_exit_0_and_the_junit_counts(host: Any, tmp_path: Path) -> None:
    done, data = check(tmp_path, "--hosts", host.hosts_spec, "--reports", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert data["failed"] == 0 and data["passed"] >= 25 and data["hosts"] == [host.hosts_spec]
    assert data["seconds"] > 0 and set(data["counts"]) <= {"pass", "n/a"}
    assert_counts_are_junits(data)
    report_dir = Path(data["report_dir"])
    assert report_dir.parent == tmp_path / "r" and report_dir.name.startswith("checks-")
    assert check_manifest(report_dir) == []
    verified = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=report_dir, capture_output=True, text=True,
                              check=False)
    assert verified.returncode == 0, verified.stdout
    html = Path(data["report_html"]).read_text()
    assert "k3s-dr host conformance" in html and "<script" in html and 'src="http' not in html  # self-contained
    for case, props in junit_properties(Path(data["junit_xml"])).items():
        assert props["control"] in case and props["area"], (case, props)  # the ID is the test id


def test_a_mutation_fails_its_control_with_exit_1(host: Any, tmp_path: Path) -> None:
    sh(host.name, f"rm {SNAPSHOT}")
    try:
        # two workers, one host: the parallel path (pytest-xdist) in the same in-process run
        done, data = check(tmp_path, "--hosts", host.hosts_spec, "--reports", str(tmp_path / "r"), "--workers", "2")
        assert done.returncode == 1, done.stderr
        junit = assert_counts_are_junits(data)
        assert data["failed"] == junit["failures"] == 1 and junit["errors"] == 0
        assert [r["control"] for r in data["results"] if r["verdict"] == "fail"] == ["DR-LINK-002"]
        last_line = done.stderr.strip().splitlines()[-1]
        assert last_line.startswith(f"k3s-dr: error: 1 of {len(BY_ID)} control results failed")
        assert "fix:     k3s-dr fix" in done.stderr  # the terminal table, on stderr
    finally:
        sh(host.name, "k3s-dr fix")
    assert failing(host.name) == {}


def test_the_installed_plugin_runs_the_suite_outside_the_checkout(host: Any, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "dr_lib.hostcheck",
            f"--hosts={host.hosts_spec}"]
    # As an operator runs it: not under our CI rule, for which a skip is a failure. A control that does
    # not apply to this host (no offsite target, no metrics textfile) is reported as n/a, by design.
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [report_dir] = (tmp_path / "reports").iterdir()  # reports by default, under the cwd
    assert check_manifest(report_dir) == []
    assert len(json.loads((report_dir / "checks.json").read_text())["results"]) == len(BY_ID)
    one = subprocess.run([*argv, "--dr-no-reports", "-k", "DR-LINK-002"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600, check=False, env=env)
    assert one.returncode == 0 and "1 passed" in one.stdout, one.stdout + one.stderr
