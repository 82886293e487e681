"""One pytest session of the host checks: the facts per host, the results per test, and the
reports (terminal table, JSON, pytest-html columns, JUnit properties, the report directory).

Registered by :mod:`dr_lib.hostcheck.plugin` in every pytest run; it acts only where control
tests ran (results), or in a check run (report columns, report directory). Results are collected
on the process that reports: the controller under xdist, whose workers send each test's
properties with its report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.report import (
    ControlResult,
    html_header_cells,
    html_row_cells,
    result_from,
    summary_counts,
    terminal_lines,
)
from dr_lib.errors import DRError
from dr_lib.evidence.control_frameworks import references_html
from dr_lib.hostcheck.reports import HTML_NAME, JSON_NAME, JUNIT_NAME, create_checks_dir, seal, write_results

WAIVED = "WAIVED"
SESSION_KEY = pytest.StashKey["CheckSession"]()


def host_id(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    return host.backend.get_pytest_id() if host is not None else "local"


def verdict_of(report: pytest.TestReport) -> str:
    if getattr(report, "wasxfail", "").startswith(WAIVED):
        return "waived"
    if report.skipped:
        return "n/a"
    if report.failed:
        return "fail" if report.when == "call" else "error"
    return "pass"


@dataclass(eq=False)  # a pytest plugin: pluggy keys plugins by identity
class CheckSession:
    config: pytest.Config
    active: bool  # a check run: the command line asked for the suite
    started: datetime
    facts: dict[str, HostFacts | BaseException] = dataclasses.field(default_factory=dict)
    results: dict[str, ControlResult] = dataclasses.field(default_factory=dict)
    report_dir: Path | None = None

    @property
    def _reporting(self) -> bool:
        """The process that writes reports (not an xdist worker)."""
        return not hasattr(self.config, "workerinput")

    def open_reports(self) -> None:
        """A check run's report directory, and pytest-html and JUnit pointed into it (unless given)."""
        option = self.config.option
        if not (self.active and self._reporting) or option.dr_no_reports or option.collectonly:
            return
        try:
            self.report_dir = create_checks_dir(Path(option.dr_reports), self.started)
        except DRError as exc:
            raise pytest.UsageError(f"--dr-reports: {exc}") from None
        if not getattr(option, "htmlpath", None):
            option.htmlpath = str(self.report_dir / HTML_NAME)
            option.self_contained_html = True
        if not getattr(option, "xmlpath", None):
            option.xmlpath = str(self.report_dir / JUNIT_NAME)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.active:
            return
        try:
            from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]  # noqa: PLC0415 - only with pytest-html
        except ImportError:
            return
        meta = self.config.stash.get(metadata_key, None)
        if meta is not None:
            meta["Started (UTC)"] = self.started.strftime("%Y-%m-%dT%H:%M:%SZ")
            meta["Hosts"] = self.config.getoption("hosts", None) or "local"
            meta["k3s-dr config on hosts"] = self.config.getoption("--dr-config")

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if getattr(report, "wasxfail", "").startswith(WAIVED):
            return "waived", "W", (WAIVED, {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.outcome == "passed":
            return
        result = result_from(report.user_properties, verdict_of(report))
        if result is not None and result.verdict == "error" and not result.problem:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            result = dataclasses.replace(result, problem=" ".join(lines)[:400] or "error", remediation="")
        if result is not None and (report.when == "call" or report.nodeid not in self.results):
            self.results[report.nodeid] = result

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self._reporting or not self.results:
            return
        results = list(self.results.values())
        terminalreporter.section("k3s-dr controls")
        for line in terminal_lines(results):
            terminalreporter.write_line(line)
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(summary_counts(results).items()))
        terminalreporter.write_line(f"{len({r.host for r in results})} host(s): {counts}")
        if self.report_dir is not None:
            terminalreporter.write_line(f"reports: {self.report_dir}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._reporting:
            return
        results = list(self.results.values())
        if self.report_dir is not None:
            write_results(self.report_dir / JSON_NAME, results)
        chosen = self.config.getoption("--dr-json")
        if chosen:
            target = Path(chosen)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_results(target, results)

    @pytest.hookimpl(trylast=True)  # after pytest-html and JUnit have written their files
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.report_dir is not None:
            seal(self.report_dir, config.getoption("--dr-signing-key"))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        if self.active:
            report.title = "k3s-dr host conformance"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        if self.active:
            postfix.append(references_html({r.control for r in self.results.values()}))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        if self.active:
            cells[2:2] = html_header_cells()

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        if self.active:
            cells[2:2] = html_row_cells(result_from(report.user_properties, verdict_of(report)))
