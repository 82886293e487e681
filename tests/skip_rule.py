"""No silent skips in CI: with ``CI`` set, a skipped test fails the run unless its reason is allowed.

A skipped tier used to pass green. With ``CI`` set (``.ci/run`` sets it; GitHub sets it), every
skip whose reason no entry of the allow-list matches is listed in the terminal summary under
"skips not allowed in CI", and the run's exit status becomes 1 (tests failed) if it was 0 (or
5, nothing ran but skips). The
allow-list, ``tests/skip-allowlist.txt`` (``--skip-allowlist PATH``), holds one entry a line: a
glob matched against the whole skip reason, `` | ``, and why CI may skip it. Tests that find a tool
missing call :func:`unavailable`: a skip on a developer's machine, a failure naming the tool in CI.

Registered by the top-level ``conftest.py``; an xfail is not a skip.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

ALLOWLIST = Path(__file__).with_name("skip-allowlist.txt")
CI_OFF = ("", "0", "false", "no")
SEPARATOR = " | "
SKIPPED_PREFIX = "Skipped: "


def ci_enforced(env: Mapping[str, str] | None = None) -> bool:
    """``CI`` is set to something other than empty, 0, false or no."""
    return (os.environ if env is None else env).get("CI", "").strip().lower() not in CI_OFF


def unavailable(reason: str) -> NoReturn:
    """What a test does when the machine lacks something it needs: skip here, fail in CI."""
    if ci_enforced():
        pytest.fail(f"{reason} (CI: a missing tool fails the tests that need it)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Allowed:
    pattern: str  # a glob over the whole reason
    why: str

    def matches(self, reason: str) -> bool:
        return fnmatch.fnmatchcase(reason, self.pattern)


def parse_allowlist(text: str, source: str) -> list[Allowed]:
    """Entries of an allow-list; a line without a reason after `` | `` is an error naming the line."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, sep, why = line.partition(SEPARATOR)
        if not sep or not pattern.strip() or not why.strip():
            raise pytest.UsageError(f"{source}:{number}: {line.strip()!r} is no entry: accepted is "
                                    f"'<glob over the skip reason>{SEPARATOR}<why CI may skip it>'")
        entries.append(Allowed(pattern.strip(), why.strip()))
    return entries


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped report carries (pytest keeps it as ``(path, line, "Skipped: reason")``)."""
    longrepr = report.longrepr
    message = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return message.removeprefix(SKIPPED_PREFIX)


class SkipRule:
    """Collects the skips no entry allows; lists them at the end and fails a run that would pass."""

    def __init__(self, allowed: list[Allowed]) -> None:
        self.allowed = allowed
        self.refused: list[tuple[str, str]] = []

    def _judge(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = skip_reason(report)
        if not any(entry.matches(reason) for entry in self.allowed):
            self.refused.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._judge(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._judge(report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.refused:
            return
        terminalreporter.write_sep("=", f"{len(self.refused)} skips not allowed in CI", red=True, bold=True)
        for nodeid, reason in self.refused:
            terminalreporter.write_line(f"SKIP NOT ALLOWED {nodeid}: {reason}")
        terminalreporter.write_line(f"(CI is set: a skip fails the run unless {ALLOWLIST.name} allows its reason)")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.refused and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("k3s-dr").addoption(
        "--skip-allowlist", default=str(ALLOWLIST), metavar="PATH",
        help="with CI set: the skips allowed (glob | why, one a line) [default: tests/skip-allowlist.txt]")


def pytest_configure(config: pytest.Config) -> None:
    if not ci_enforced():
        return
    path = Path(config.getoption("--skip-allowlist"))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"--skip-allowlist {str(path)!r}: {exc.strerror}") from None
    config.pluginmanager.register(SkipRule(parse_allowlist(text, str(path))), "k3s-dr-skip-rule")
