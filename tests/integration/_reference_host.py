"""Reference hosts for tests: start (skipping with the missing tool named; failing in CI), judge, run the suite.

Judging in-process uses exactly the suite's path: testinfra's docker backend as the transport,
:func:`dr_lib.checks.gather.gather` for the facts, the controls' verdicts. Tests that need the
suite's own output (terminal, JUnit, HTML, xdist) run ``pytest tests/checks`` as a process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import testinfra

from dr_lib.checks.evaluate import evaluate_all
from dr_lib.checks.gather import gather
from dr_lib.checks.model import Finding, Outcome
from dr_lib.errors import DRError
from dr_lib.hostcheck.reports import HTML_NAME, JSON_NAME, JUNIT_NAME
from dr_lib.reportdir import check_manifest
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.docker import ensure_engine
from k3s_dr_testbed.lab.host import exec_in, host_down, host_up
from tests.skip_rule import unavailable

ROOT = Path(__file__).resolve().parents[2]
UP_SECONDS = 900.0  # a cold machine builds the Debian image (~1.5 min) and the host images first
_names = itertools.count()


def require_tools() -> Path:
    """The binaries directory, or a skip that names what this machine lacks (a failure in CI)."""
    for tool, package in (("openssl", "openssl"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (Debian package {package}): the reference host cannot be built")
    try:
        ensure_engine(time.monotonic() + 120)
    except DRError as exc:
        unavailable(f"no Docker engine can run here: {exc}")
    try:
        return locate_binaries()
    except DRError as exc:
        unavailable(f"the control-plane binaries are not built: {exc}")


@contextlib.contextmanager
def reference_host(prefix: str, stage: str = "installed") -> Iterator[Any]:
    """A reference host set up as far as ``stage`` (k3s_dr_testbed.lab.host.STAGES), removed afterwards."""
    bin_dir = require_tools()
    name = f"{prefix}-{os.getpid()}-{next(_names)}"
    host = host_up(name, bin_dir, time.monotonic() + UP_SECONDS, stage=stage)
    try:
        yield host
    finally:
        host_down(name)


def sh(name: str, command: str, *, check: bool = True) -> str:
    code, out = exec_in(name, command, time.monotonic() + 180, check=False)
    if check and code != 0:
        raise AssertionError(f"{command!r} failed in {name} (exit {code}): {out}")
    return out


def evaluate(name: str) -> dict[str, Finding]:
    host = testinfra.get_host(f"docker://{name}")

    def run(command: str) -> tuple[int, str, str]:
        result = host.run(command)
        return result.rc, result.stdout, result.stderr

    return evaluate_all(gather(run, f"docker://{name}"))


def failing(name: str) -> dict[str, str]:
    return {cid: f.problem for cid, f in evaluate(name).items() if f.outcome is Outcome.FAIL}


@dataclass(frozen=True)
class SuiteRun:
    exit_code: int
    output: str
    seconds: float
    results: list[dict[str, Any]]
    junit: Path
    html: Path

    def verdicts(self, host: str | None = None) -> dict[str, str]:
        return {r["control"]: r["verdict"] for r in self.results if host is None or r["host"] == host}

    def failed(self, host: str | None = None) -> set[str]:
        return {c for c, v in self.verdicts(host).items() if v in ("fail", "error")}


def run_suite(hosts: list[str], out_dir: Path, *extra: str) -> SuiteRun:
    """``pytest tests/checks --hosts=...`` as an operator runs it: its reports are the ones a check run
    writes by default, in ``out_dir/checks-<UTC>/`` (HTML, JUnit XML, JSON, SHA256SUMS)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", "tests/checks", f"--hosts={','.join(hosts)}", "-p", "no:cacheprovider",
            f"--dr-reports={out_dir}", *extra]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    seconds = time.monotonic() - started
    written = sorted(out_dir.glob("checks-*"))
    assert len(written) == 1, f"one report directory per run, found {written}: {done.stdout + done.stderr}"
    report_dir = written[0]
    assert check_manifest(report_dir) == [], report_dir
    results = report_dir / JSON_NAME
    data = json.loads(results.read_text()) if results.exists() else {"results": []}
    return SuiteRun(done.returncode, done.stdout + done.stderr, seconds, data["results"], report_dir / JUNIT_NAME,
                    report_dir / HTML_NAME)


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    """Per test case name: its <properties> (the control's identity and verdict)."""
    found: dict[str, dict[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        found[case.get("name", "")] = props
    return found
