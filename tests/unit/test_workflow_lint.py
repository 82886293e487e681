"""Both GitHub workflows pass actionlint (with shellcheck over every `run:` script) and zizmor's
security audit (offline, auditor persona) without a medium or high finding. Each linter is also
shown to fail on a workflow written the way this one was before (tag-pinned action, credentials
left in the checkout, an unquoted variable), so a pass means something.

actionlint is the Go module github.com/rhysd/actionlint, built by scripts/setup into the cache
(k3s_dr_testbed/gotools.py); zizmor comes with the test extra; shellcheck is a Debian package
scripts/setup installs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from k3s_dr_testbed.gotools import TOOLS, ensure_tool

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
NAMES = ("restore-drill.yml", "ci.yml")
SERIOUS = {"Medium", "High"}
BEFORE = """name: before
on: push
jobs:
  drill:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: k3s-dr drill --reports $REPORTS
"""


@pytest.fixture(scope="module")
def actionlint() -> str:
    assert shutil.which("shellcheck"), "shellcheck is needed: without it actionlint skips every run: script"
    return str(ensure_tool(TOOLS["actionlint"]))


def _zizmor() -> str:
    found = Path(sys.executable).parent / "zizmor"
    return str(found) if found.is_file() else (shutil.which("zizmor") or "zizmor")


def _actionlint(binary: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "-no-color", str(path)], capture_output=True, text=True, timeout=120, check=False)


def _zizmor_findings(path: Path) -> list[dict[str, Any]]:
    done = subprocess.run([_zizmor(), "--offline", "--persona", "auditor", "--format", "json", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip(), f"zizmor printed nothing (exit {done.returncode}): {done.stderr[-1000:]}"
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def _serious(findings: list[dict[str, Any]]) -> list[str]:
    return [f"{f['ident']} ({f['determinations']['severity']}): {f.get('desc', '')}" for f in findings
            if f["determinations"]["severity"] in SERIOUS]


@pytest.mark.parametrize("name", NAMES)
def test_actionlint_passes(actionlint: str, name: str) -> None:
    done = _actionlint(actionlint, WORKFLOWS / name)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", NAMES)
def test_zizmor_finds_nothing_medium_or_high(name: str) -> None:
    assert _serious(_zizmor_findings(WORKFLOWS / name)) == []


def test_the_linters_fail_the_workflow_as_it_was(actionlint: str, tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "before.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(BEFORE)
    linted = _actionlint(actionlint, workflow)
    assert linted.returncode != 0 and "SC2086" in linted.stdout, linted.stdout
    serious = " ".join(_serious(_zizmor_findings(workflow)))
    assert "unpinned-uses (High)" in serious and "artipacked (Medium)" in serious, serious
