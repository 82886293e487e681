"""The skip rule (tests/skip_rule.py), run for real: pytest in a subprocess on a small sample, with and
without ``CI``, against allow-lists written for each case."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.skip_rule import ALLOWLIST, ci_enforced, parse_allowlist

REPO = Path(__file__).resolve().parents[2]
SAMPLE = textwrap.dedent("""
    import pytest
    from tests.skip_rule import unavailable

    def test_passes():
        pass

    def test_needs_a_unicorn():
        pytest.skip("needs a unicorn")

    @pytest.mark.skipif(True, reason="allowed: the moon is down")
    def test_on_the_allow_list():
        pass

    @pytest.mark.xfail(reason="a known bug, not a skip")
    def test_expected_to_fail():
        assert False
""")
MISSING_TOOL = textwrap.dedent("""
    from tests.skip_rule import unavailable

    def test_needs_restic():
        unavailable("needs restic (apt-get install restic)")
""")
MODULE_SKIP = 'import pytest\npytest.skip("this module needs a unicorn", allow_module_level=True)\n'


def run(tmp_path: Path, source: str, *, ci: str | None, allowlist: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source)
    (tmp_path / "allow.txt").write_text(allowlist)
    # Only the plugin under test (and pytest's own): the installed ones are not what is judged, and slow.
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(REPO),
                                                                 "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.skip_rule", "-p", "no:cacheprovider", "-c", os.devnull,
         "--rootdir", str(tmp_path), "--skip-allowlist", str(tmp_path / "allow.txt"), "-rs",
         str(tmp_path / "test_sample.py")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)


def test_without_ci_skips_pass_as_they_always_did(tmp_path: Path) -> None:
    done = run(tmp_path, SAMPLE, ci=None)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in done.stdout and "not allowed" not in done.stdout


@pytest.mark.parametrize("value", ["", "0", "false", "No"])
def test_ci_set_to_a_false_value_is_not_ci(tmp_path: Path, value: str) -> None:
    assert not ci_enforced({"CI": value})
    assert run(tmp_path, SAMPLE, ci=value).returncode == 0


def test_in_ci_a_skip_off_the_allow_list_fails_the_run_and_is_named(tmp_path: Path) -> None:
    done = run(tmp_path, SAMPLE, ci="true", allowlist="allowed: * | the sample's own entry\n")
    assert done.returncode == 1, done.stdout
    refused = [line for line in done.stdout.splitlines() if line.startswith("SKIP NOT ALLOWED")]
    assert refused == ["SKIP NOT ALLOWED test_sample.py::test_needs_a_unicorn: needs a unicorn"]
    assert "1 skips not allowed in CI" in done.stdout


def test_in_ci_skips_that_are_all_allowed_pass(tmp_path: Path) -> None:
    allowlist = "# comment\n\nneeds a unicorn | unicorns are rare\nallowed: * | the sample's own entry\n"
    done = run(tmp_path, SAMPLE, ci="1", allowlist=allowlist)
    assert done.returncode == 0, done.stdout
    assert "not allowed" not in done.stdout


def test_in_ci_a_module_level_skip_counts_too(tmp_path: Path) -> None:
    done = run(tmp_path, MODULE_SKIP, ci="true")
    assert done.returncode == 1, done.stdout
    assert "SKIP NOT ALLOWED test_sample.py: this module needs a unicorn" in done.stdout


def test_a_missing_tool_skips_here_and_fails_in_ci(tmp_path: Path) -> None:
    here = run(tmp_path, MISSING_TOOL, ci=None)
    assert here.returncode == 0 and "1 skipped" in here.stdout, here.stdout
    in_ci = run(tmp_path, MISSING_TOOL, ci="true")
    assert in_ci.returncode == 1 and "1 failed" in in_ci.stdout, in_ci.stdout
    assert "needs restic (apt-get install restic) (CI: a missing tool fails the tests that need it)" in in_ci.stdout


@pytest.mark.parametrize("line", ["needs a unicorn", "needs a unicorn | ", " | no pattern"])
def test_an_entry_without_its_reason_is_a_usage_error_naming_the_line(tmp_path: Path, line: str) -> None:
    done = run(tmp_path, SAMPLE, ci="true", allowlist=f"# first\n{line}\n")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "allow.txt:2:" in done.stderr and "is no entry" in done.stderr


def test_the_repository_allow_list_is_short_and_every_entry_says_why() -> None:
    entries = parse_allowlist(ALLOWLIST.read_text(encoding="utf-8"), str(ALLOWLIST))
    assert len(entries) <= 5
    assert all(len(entry.why) >= 20 for entry in entries)
