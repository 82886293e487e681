"""The pytest plugin that turns the step tests into a drill with a report.

Registered by ``k3s-dr drill`` (``pytest.main(..., plugins=[DrillPlugin(settings)])``) and by
``tests/e2e/conftest.py`` for ``pytest tests/e2e --run-e2e``: one implementation either way.
It creates the report directory and the :class:`DrillRun` at configure time, points
pytest-html and JUnit XML into the directory, adds the drill's columns, summary and extras,
writes the evidence when the session ends, and at unconfigure (after pytest-html and JUnit
have written their files) scrubs secrets, takes the screenshot and writes the sha256 manifest.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Generator
from html import escape
from pathlib import Path
from typing import Any

import pytest
from pytest_html import extras
from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]

from dr_lib.clock import utc_now
from dr_lib.drill import browser
from dr_lib.drill.evidence import build_evidence
from dr_lib.drill.identity import run_identity
from dr_lib.drill.redact import Scrubber, secret_strings
from dr_lib.drill.report import failures_table, junit_in_utc, place_summary, row_values, seconds_text, title
from dr_lib.drill.reportdir import create_report_dir, scrub_directory, seal_report, write_file
from dr_lib.drill.run import DrillRun, DrillSettings, command_env, new_work_dir
from dr_lib.drill.steps import current_verdict
from dr_lib.drill.summary import summary_block
from dr_lib.drill.timeline import STEP_NAMES, Timeline, iso, step_label
from dr_lib.drill.trigger import run_context
from dr_lib.drill.verdict import Verdict
from dr_lib.errors import DRError
from dr_lib.signing.keys import load_signing_key

DRILL_RUN_KEY = pytest.StashKey[DrillRun]()
PLUGIN_NAME = "k3s-dr-drill"
HTML_NAME = "report.html"
JUNIT_NAME = "junit.xml"
EVIDENCE_NAME = "evidence.json"
SCREENSHOT_NAME = "report.png"


class DrillPlugin:
    def __init__(self, settings: DrillSettings, *, progress_to_stderr: bool = True, own_report: bool = True) -> None:
        """``own_report=False``: the drill runs inside a larger session (unit + integration + e2e)
        whose HTML and JUnit belong to whoever started it; the drill then writes its evidence and
        manifest only, and leaves the session's reports alone."""
        self.settings = settings.check()
        self.progress_to_stderr = progress_to_stderr
        self.own_report = own_report
        self.run: DrillRun | None = None
        self.verdict: Verdict | None = None
        self.finished_iso = ""
        self.evidence: dict[str, Any] | None = None
        self.cleanup_problems: list[str] = []
        self.notes: list[str] = []
        self._config: pytest.Config | None = None
        self._suite_property: Callable[[str, object], None] | None = None
        # Loaded now: a key that cannot sign stops the drill before it starts, not after its report is written.
        self.signer = None if settings.signing_key is None else load_signing_key(settings.signing_key)

    # -- progress on the terminal, through pytest's output capture ------------------------
    def progress(self, line: str) -> None:
        if not self.progress_to_stderr:
            return
        capman = self._config.pluginmanager.getplugin("capturemanager") if self._config else None
        guard = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
        with guard:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    # -- set-up ------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config
        started = utc_now()
        drill_id = secrets.token_hex(3)
        report_dir = create_report_dir(self.settings.reports_root, started, drill_id)
        work_dir = new_work_dir()
        identity = run_identity(self.settings.provider, self.settings.destroy, self.settings.real_node)
        identity.update(run_context(os.environ, user=_user(), host=platform.node(), ticket=self.settings.ticket,
                                    reviewer=self.settings.reviewer))
        self.run = DrillRun(self.settings, drill_id, report_dir, work_dir, Timeline(started),
                            command_env(self.settings, work_dir), progress=self.progress, identity=identity,
                            test_options=self.settings.test_options())
        config.stash[DRILL_RUN_KEY] = self.run
        if self.own_report:
            config.option.htmlpath = str(report_dir / HTML_NAME)
            config.option.self_contained_html = True
            config.option.xmlpath = str(report_dir / JUNIT_NAME)
            # A step's failure is its message; deep tracebacks into the drill's plumbing help nobody.
            config.option.tbstyle = "short"
        config.addinivalue_line("markers", "e2e: restore drill steps")
        self.progress(f"k3s-dr drill {drill_id}: provider {self.settings.provider}, {self.settings.subject}"
                      f"{', real node' if self.settings.real_node else ''}; report in {report_dir}")
        if self.run.test_options:
            self.progress(f"  TEST-ONLY options active: {self.run.test_options}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._update_metadata(session.config)

    @pytest.fixture(scope="session", autouse=True)
    def _drill_junit_suite_property(self, record_testsuite_property: Callable[[str, object], None]) -> None:
        """JUnit's suite-level properties through pytest's public recorder, kept for the session's end:
        the evidence they come from exists only once every step has run."""
        self._suite_property = record_testsuite_property

    def _update_metadata(self, config: pytest.Config) -> None:
        if self.run is not None and metadata_key in config.stash:
            config.stash[metadata_key].update({f"drill {k}": v for k, v in self.run.identity.items()})
            config.stash[metadata_key]["drill started (UTC)"] = iso(self.run.started)

    # -- per step: columns, properties, extras -------------------------------------------
    def _row_properties(self, step: str) -> dict[str, str]:
        assert self.run is not None
        timeline = self.run.timeline
        rto = timeline.rto_seconds(time.monotonic())
        verdict = current_verdict(self.run)
        props = {"step": step_label(step), "rto": "—", "rpo": "—"}
        if step in ("destroy", "restore", "verify") and timeline.disaster is not None:
            props["rto"] = f"{seconds_text(rto)} so far" if timeline.recovered is None else seconds_text(rto)
        if step in ("destroy", "restore", "verify", "judge"):
            props["rpo"] = seconds_text(verdict.rpo_seconds)
        if step == "judge":
            props["rto"] = f"{seconds_text(verdict.rto_seconds)} / {verdict.targets.rto_seconds} s"
            props["rpo"] = f"{seconds_text(verdict.rpo_seconds)} / {verdict.targets.rpo_seconds} s"
        return props

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        step = getattr(getattr(item, "function", None), "drill_step", None)
        shown = report.when == "call" or (report.when == "setup" and report.outcome != "passed")
        if step not in STEP_NAMES or not shown or self.run is None:
            return
        for key, value in self._row_properties(step).items():
            report.user_properties.append((key, value))
        report.extras = [*getattr(report, "extras", []), *self._extras(step)]

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """Stop the drill's clusters as soon as the judge has run: other tests of the same session
        (pytest tests/e2e) should not share two cores with clusters nobody uses any more. The step
        is known by the attribute the drill's own step tests carry, never by a test's name."""
        step = getattr(getattr(item, "function", None), "drill_step", None)
        if self.run is not None and step == STEP_NAMES[-1]:
            self.cleanup_problems += self.run.close()

    def _extras(self, step: str) -> list[Any]:
        """The step's attachments, scrubbed of every secret value known so far: extras are
        embedded base64-encoded, where the final scrub of the report files cannot see them."""
        assert self.run is not None
        scrubber = Scrubber.of(self._secret_values())
        made = []
        for name, fmt, content in self.run.extras.get(step, []):
            if fmt == "json":
                clean, _count = scrubber.scrub(json.dumps(content, sort_keys=True, default=str))
                made.append(extras.json(json.loads(clean), name=name))
            elif fmt == "text":
                made.append(extras.text(scrubber.scrub(str(content))[0], name=name))
            else:
                made.append(extras.html(scrubber.scrub(str(content))[0]))
        return made

    def pytest_html_report_title(self, report: Any) -> None:
        if self.run is not None and self.own_report:
            report.title = title(self.run)

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        if not self.own_report:
            return
        cells.insert(1, '<th class="sortable" data-column-type="step">Step</th>')
        cells.insert(4, "<th>RTO</th>")
        cells.insert(5, "<th>RPO</th>")

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        if not self.own_report:
            return
        properties = dict(getattr(report, "user_properties", []))
        if "step" not in properties:  # another test in the same session: not part of this drill's report
            del cells[:]
            return
        step, rto, rpo = row_values(properties)
        cells.insert(1, f'<td class="col-step">{escape(step)}</td>')
        cells.insert(4, f'<td class="col-rto">{escape(rto)}</td>')
        cells.insert(5, f'<td class="col-rpo">{escape(rpo)}</td>')

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        if self.run is not None and self.verdict is not None and self.own_report:
            prefix.append("<p>The drill's summary (verdict, scope, RTO and RPO, objects, health) is at the top of "
                          "this page.</p>")
            prefix.extend(f"<p class='drill-note'>{escape(n)}</p>" for n in self.notes)

    # -- the end: clusters down, evidence, then (after the reports exist) scrub and hash ---
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run = self.run
        if run is None:
            return
        self.progress("  cleaning up (clusters, work directory) …")
        self.cleanup_problems += run.close()
        self.notes += [f"cleanup problem: {p}" for p in self.cleanup_problems]
        finished = utc_now()
        self.finished_iso = iso(finished)
        self.verdict = current_verdict(run)
        evidence = build_evidence(run, self.verdict, finished)
        evidence["report"] = {"html": HTML_NAME, "junit": JUNIT_NAME, "evidence": EVIDENCE_NAME,
                              "screenshot": SCREENSHOT_NAME, "manifest": "SHA256SUMS"}
        evidence["cleanup_problems"] = self.cleanup_problems
        write_file(run.report_dir / EVIDENCE_NAME, json.dumps(evidence, indent=2, sort_keys=True) + "\n")
        self.evidence = evidence
        self._update_metadata(session.config)
        if self.own_report and self._suite_property is not None:  # the one JUnit place every family keeps
            for name, value in junit_properties(evidence):
                self._suite_property(name, value)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        run = self.run
        if run is None:
            return
        html = run.report_dir / HTML_NAME
        if html.is_file() and self.evidence is not None:
            try:
                page = html.read_text(encoding="utf-8")
                write_file(html, place_summary(page, summary_block(self.evidence, failures_table(run.verification)),
                                               self.finished_iso))
            except (OSError, DRError) as exc:  # the page without its summary still beats no sealed evidence
                self.progress(f"  summary not placed in {html}: {exc}")
        junit = run.report_dir / JUNIT_NAME
        if junit.is_file():
            write_file(junit, junit_in_utc(junit.read_text(encoding="utf-8")))
        scrubber = Scrubber.of(self._secret_values())
        replaced = scrub_directory(run.report_dir, scrubber)
        if replaced:
            self.progress(f"  redacted {replaced} secret values from report files")
        chromium = browser.find_chromium()
        if not html.is_file():
            self.progress("  no HTML report: this drill ran inside a larger pytest session (evidence.json has it all)")
        elif chromium is not None:
            try:
                browser.screenshot(html, run.report_dir / SCREENSHOT_NAME, binary=chromium)
            except Exception as exc:  # noqa: BLE001 - a missing picture must not lose the evidence
                self.progress(f"  screenshot failed: {exc}")
        else:
            self.progress("  no screenshot: chromium is not installed (apt-get install -y chromium)")
        seal_report(run.report_dir, self.signer)
        if self.signer is not None:
            self.progress(f"  report sealed: SHA256SUMS signed by key {self.signer.key_id}")
        verdict = self.verdict
        if verdict is not None:
            scope = " (limited scope)" if self.evidence and self.evidence["scope"]["limited"] and verdict.passed else ""
            self.progress(f"verdict: {verdict.verdict.upper()}{scope} — RTO {seconds_text(verdict.rto_seconds)} "
                          f"(target {verdict.targets.rto_seconds} s), RPO {seconds_text(verdict.rpo_seconds)} "
                          f"(target {verdict.targets.rpo_seconds} s)")
        self.progress(f"report: {html if html.is_file() else run.report_dir}")

    def _secret_values(self) -> set[str]:
        """Every secret value the drill could have seen: the seeded Secrets and the archive's."""
        assert self.run is not None
        values: set[str] = set()
        for obj in self.run.seeded:
            values |= secret_strings(obj)
        values |= self.run.secret_values
        return values


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment and no passwd entry (containers)
        return "unknown"


def junit_properties(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    backup = evidence.get("backup") or {}
    identity = evidence.get("identity") or {}
    scope = evidence.get("scope") or {}
    pairs = [("drill_id", evidence.get("drill_id")), ("verdict", evidence.get("verdict")),
             ("verdict_summary", evidence.get("verdict_summary")),
             ("scope_limits", ",".join(str(limit.get("id")) for limit in scope.get("limits") or [])),
             ("failed_step", evidence.get("failed_step")), ("rto_seconds", evidence.get("rto_seconds")),
             ("rpo_seconds", evidence.get("rpo_seconds")), ("rto_target_seconds", evidence["targets"]["rto_seconds"]),
             ("rpo_target_seconds", evidence["targets"]["rpo_seconds"]), ("started", evidence.get("started")),
             ("finished", evidence.get("finished")), ("backup_archive", backup.get("archive")),
             ("backup_sha256", backup.get("sha256")), *sorted(identity.items())]
    return [(name, "" if value is None else str(value)) for name, value in pairs]


def report_paths(report_dir: Path) -> dict[str, Path]:
    return {"report_html": report_dir / HTML_NAME, "junit_xml": report_dir / JUNIT_NAME,
            "evidence_json": report_dir / EVIDENCE_NAME, "screenshot": report_dir / SCREENSHOT_NAME}
