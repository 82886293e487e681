"""The k3s-dr host conformance suite (pytest-testinfra): one test per control of
``dr_lib.checks.controls``, judged on the host under test.

    pytest tests/checks                                    # this machine
    pytest tests/checks --hosts=docker://h1,ssh://node2    # other hosts (ansible://all works too)
    pytest tests/checks --hosts=... -n 2 --dist loadgroup  # in parallel, one worker per host
    pytest tests/checks --junitxml=r.xml --html=r.html --self-contained-html --dr-json=r.json

Every setting (paths, unit names, thresholds, waivers) is read on the host under test, from its
own ``/etc/k3s-dr/config.yaml`` (``--dr-config`` names another path), so the seed's layout and
ours are checked the same way. Facts are collected once per host in three round trips
(:mod:`dr_lib.checks.gather`); each test then judges one control purely.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dr_lib.checks.controls import BY_ID, control, placeholders, remediation
from dr_lib.checks.evaluate import VERDICTS
from dr_lib.checks.gather import gather
from dr_lib.checks.hostfacts import HostFacts
from dr_lib.checks.model import Finding, Outcome
from dr_lib.checks.report import (
    ControlResult,
    control_properties,
    finding_properties,
    html_header_cells,
    html_row_cells,
    result_from,
    results_json,
    summary_counts,
    terminal_lines,
)
from dr_lib.config import DEFAULT_CONFIG_PATH
from dr_lib.evidence.control_frameworks import references_html, references_json

WAIVED = "WAIVED"
_FACTS: dict[str, HostFacts | BaseException] = {}
_RESULTS: dict[str, ControlResult] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k3s-dr", "k3s-dr host conformance")
    group.addoption("--dr-config", default=str(DEFAULT_CONFIG_PATH),
                    help="k3s-dr config file on the host(s) under test [default: %(default)s]")
    group.addoption("--dr-json", default=None, metavar="PATH", help="also write every control's result as JSON")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(id): the k3s-dr control (dr_lib.checks.controls) a test judges")
    config.addinivalue_line("markers", "xdist_group(name): tests of one host, for --dist loadgroup")
    try:
        from pytest_metadata.plugin import metadata_key  # noqa: PLC0415 - only with pytest-html
    except ImportError:
        return
    meta = config.stash.get(metadata_key, None)
    if meta is not None:
        meta["Started (UTC)"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["Hosts"] = config.getoption("hosts") or "local"
        meta["k3s-dr config on hosts"] = config.getoption("--dr-config")


def _host_id(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    return host.backend.get_pytest_id() if host is not None else "local"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("control")
        if marker is None:
            continue
        item_control = control(marker.args[0])  # an unknown ID fails the collection loudly
        host = _host_id(item)
        item.user_properties.extend(control_properties(item_control, host))
        # With `--dist loadgroup`, one worker takes all of a host's controls: its facts are read once.
        item.add_marker(pytest.mark.xdist_group(host))


@pytest.fixture(scope="module")
def facts(host: Any, request: pytest.FixtureRequest) -> HostFacts:
    """Everything the controls judge about this host, gathered once per host and process."""
    host_id = host.backend.get_pytest_id()
    if host_id not in _FACTS:

        def run(command: str) -> tuple[int, str, str]:
            result = host.run(command)
            return result.rc, result.stdout, result.stderr

        try:
            _FACTS[host_id] = gather(run, host_id, request.config.getoption("--dr-config"))
        except Exception as exc:
            _FACTS[host_id] = exc
    found = _FACTS[host_id]
    if isinstance(found, BaseException):
        pytest.fail(f"cannot read {host_id}: {found}", pytrace=False)
    return found


def _message(control_id: str, host: str, finding: Finding, fix: str) -> str:
    item = BY_ID[control_id]
    return (f"{control_id} [{item.severity}] {item.title} — FAILED on {host}\n"
            f"  problem:  {finding.problem}\n  evidence: {finding.evidence}\n"
            f"  why:      {item.why}\n  fix:      {fix}")


@pytest.fixture
def judge(facts: HostFacts, request: pytest.FixtureRequest) -> Callable[[Callable[[HostFacts], Finding]], None]:
    """``judge(verdict)``: apply this test's control to the host; pass, fail, skip (n/a) or waive."""
    marker = request.node.get_closest_marker("control")
    assert marker is not None, "every check needs @pytest.mark.control(ID)"
    control_id: str = marker.args[0]
    item = BY_ID[control_id]

    def apply(verdict: Callable[[HostFacts], Finding]) -> None:
        assert VERDICTS[control_id] is verdict, f"{control_id} is judged by {VERDICTS[control_id].__name__}"
        fix = remediation(item, placeholders(facts.layout.config, facts.layout.config_path))
        if facts.config_problem and control_id != "DR-CONF-001":
            finding = Finding(Outcome.FAIL, "not judged", "the host's configuration is invalid: see DR-CONF-001")
        else:
            finding = verdict(facts)
        if finding.outcome is Outcome.NOT_APPLICABLE:
            request.node.user_properties.extend(finding_properties(finding, "n/a", fix))
            pytest.skip(f"n/a: {finding.evidence}")
        if finding.outcome is Outcome.PASS:
            request.node.user_properties.extend(finding_properties(finding, "pass", fix))
            return
        waiver = facts.waivers.active(control_id, facts.files.host_today)
        if waiver is not None:
            text = f"until {waiver.expires}: {waiver.justification}" + (f" ({waiver.owner})" if waiver.owner else "")
            request.node.user_properties.extend(finding_properties(finding, "waived", fix, text))
            pytest.xfail(f"{WAIVED} {control_id} {text} | {finding.problem}")
        request.node.user_properties.extend(finding_properties(finding, "fail", fix))
        pytest.fail(_message(control_id, facts.host, finding, fix), pytrace=False)

    return apply


def _verdict_of(report: pytest.TestReport) -> str:
    if getattr(report, "wasxfail", "").startswith(WAIVED):
        return "waived"
    if report.skipped:
        return "n/a"
    if report.failed:
        return "fail" if report.when == "call" else "error"
    return "pass"


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if getattr(report, "wasxfail", "").startswith(WAIVED):
        return "waived", "W", (WAIVED, {"yellow": True})
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collects results on the process that reports (the controller under xdist)."""
    if report.when == "call" or report.outcome != "passed":
        result = result_from(report.user_properties, _verdict_of(report))
        if result is not None and result.verdict == "error" and not result.problem:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            result = dataclasses.replace(result, problem=" ".join(lines)[:400] or "error", remediation="")
        if result is not None and (report.when == "call" or report.nodeid not in _RESULTS):
            _RESULTS[report.nodeid] = result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not _RESULTS:
        return
    results = list(_RESULTS.values())
    terminalreporter.section("k3s-dr controls")
    for line in terminal_lines(results):
        terminalreporter.write_line(line)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(summary_counts(results).items()))
    terminalreporter.write_line(f"{len({r.host for r in results})} host(s): {counts}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--dr-json")
    if path and not hasattr(session.config, "workerinput"):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}")
        results = list(_RESULTS.values())
        frameworks = references_json({r.control for r in results})
        temp.write_text(json.dumps({**results_json(results), "frameworks": frameworks}, indent=2) + "\n")
        temp.replace(target)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    report.title = "k3s-dr host conformance"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells[2:2] = html_header_cells()


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    cells[2:2] = html_row_cells(result_from(report.user_properties, _verdict_of(report)))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str]) -> None:
    """Which framework requirement each control supports and why: static HTML, no script needed."""
    postfix.append(references_html({r.control for r in _RESULTS.values()}))
