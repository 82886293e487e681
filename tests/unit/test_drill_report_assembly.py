"""The drill's report machinery (plugin, pytest-html, JUnit, evidence, redaction, manifest) with
FAKE steps: pure bookkeeping stands in for clusters so the assembly is checked in seconds.
The real steps against real clusters are tests/e2e."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path

import pytest

from dr_lib.clock import utc_now
from dr_lib.drill import steps
from dr_lib.drill.app import AppOptions, application
from dr_lib.drill.commands import CommandRun
from dr_lib.drill.redact import redact_object
from dr_lib.drill.reportdir import check_manifest
from dr_lib.drill.run import BackupRecord, DrillRun, DrillSettings
from dr_lib.drill.runner import pytest_args
from dr_lib.drill.suite import test_steps
from dr_lib.drill.suite.plugin import DrillPlugin
from dr_lib.drill.verdict import Targets
from dr_lib.drill.verify import ObjectResult, Verification
from dr_lib.errors import StepFailed

LEAK = "leaky-secret-value-123"


def fake_source(run: DrillRun) -> None:
    run.seeded = application(AppOptions(run.drill_id, images={"app": "docker.io/local/debian:bookworm"}))
    run.identity["kubernetes_version_source"] = "v1.34.2-fake"
    run.attach("source", "application.json", "json", [redact_object(o) for o in run.seeded])


def fake_backup(run: DrillRun) -> None:
    run.backup = BackupRecord(Path("/nonexistent/k3s-dr-20261128T000000Z.tar.gz"), "0" * 64, 1, utc_now(), 34, 18,
                              CommandRun(("backup",), 0, {}, "", 0.1), {"promoted": True})
    run.secret_values.add(LEAK)  # as if the archive held a Secret with this value


def fake_destroy(run: DrillRun) -> None:
    run.timeline.mark_disaster(utc_now(), time.monotonic())
    run.identity["kubernetes_version_target"] = "v1.34.2-fake"


def fake_restore(run: DrillRun) -> None:
    run.attach("restore", "ledger.json", "json", {"entries": [{"note": f"an API error quoting {LEAK}"}]})


def fake_restore_broken(run: DrillRun) -> None:
    fake_restore(run)
    raise StepFailed("restore-and-wait failed: PersistentVolumeClaim insightlearn-data/db-data Pending")


def fake_verify(run: DrillRun) -> None:
    run.verification = Verification([ObjectResult("Secret", "secrets", "insightlearn", "api-secrets", "equal")])
    run.attach("verify", "diff.txt", "text", run.verification.diff_text())
    run.timeline.mark_recovered(utc_now(), time.monotonic())


def _drill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore: object) -> DrillPlugin:
    for name, fake in (("source", fake_source), ("backup", fake_backup), ("destroy", fake_destroy),
                       ("restore", restore), ("verify", fake_verify)):
        monkeypatch.setattr(steps, name, fake)
    plugin = DrillPlugin(DrillSettings(reports_root=tmp_path / "reports", targets=Targets(900, 3600)),
                         progress_to_stderr=False)
    pytest.main(pytest_args(Path(test_steps.__file__).resolve()), plugins=[plugin])
    assert plugin.run is not None
    return plugin


def _extras(page: str) -> list[str]:
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob is not None
    data = json.loads(html.unescape(blob.group(1)))
    return [base64.b64decode(str(e["content"]).split(",", 1)[1]).decode()
            for runs in data["tests"].values() for t in runs for e in t.get("extras", [])
            if str(e.get("content", "")).startswith("data:")]


def test_a_passing_drill_leaves_every_report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _drill(tmp_path, monkeypatch, fake_restore)
    report_dir = plugin.run.report_dir  # type: ignore[union-attr]
    assert report_dir.parent == tmp_path / "reports"
    assert {"report.html", "junit.xml", "evidence.json", "SHA256SUMS"} <= {p.name for p in report_dir.iterdir()}
    assert check_manifest(report_dir) == []
    evidence = json.loads((report_dir / "evidence.json").read_text())
    assert evidence["verdict"] == "pass" and evidence["backup"]["sha256"] == "0" * 64
    assert [s["status"] for s in evidence["timeline"]["steps"]] == ["passed"] * 6
    assert evidence["verdict_summary"] == "pass (limited scope)" and evidence["scope"]["limited"] is True
    assert evidence["identity"]["trigger"] in ("manual", "ci", "schedule", "systemd unit")
    page = (report_dir / "report.html").read_text()
    assert "k3s-dr restore drill" in page and "Verdict: PASS (limited scope)" in page and "v1.34.2-fake" in page
    for column in ("<th", ">Step<", ">RTO<", ">RPO<"):
        assert column in page
    # the summary is static markup above pytest-html's script-drawn environment table, its time in UTC
    summary, environment = page.index("<section id='drill-summary'>"), page.index('<div id="environment-header">')
    assert summary < environment < page.index("<script>")
    assert page.count("<section id='drill-summary'>") == 1 and "<svg " in page[summary:environment]
    assert re.search(r"Report generated at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(UTC\)", page)
    junit = (report_dir / "junit.xml").read_text()
    assert junit.count("<testcase ") == 6 and '<property name="verdict" value="pass"' in junit
    assert re.search(r'<testsuite [^>]*timestamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"', junit)
    assert '<property name="verdict_summary" value="pass (limited scope)"' in junit


def test_secret_values_are_scrubbed_even_inside_embedded_extras(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _drill(tmp_path, monkeypatch, fake_restore)
    report_dir = plugin.run.report_dir  # type: ignore[union-attr]
    page = (report_dir / "report.html").read_text()
    extras = _extras(page)
    assert any("an API error quoting <redacted>" in text for text in extras)
    for text in [page, *extras, *(p.read_text(errors="replace") for p in report_dir.iterdir())]:
        assert LEAK not in text


def test_a_failing_step_is_where_the_report_says_the_drill_failed(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _drill(tmp_path, monkeypatch, fake_restore_broken)
    report_dir = plugin.run.report_dir  # type: ignore[union-attr]
    evidence = json.loads((report_dir / "evidence.json").read_text())
    assert evidence["verdict"] == "fail" and evidence["failed_step"] == "restore"
    statuses = {s["step"]: s["status"] for s in evidence["timeline"]["steps"]}
    assert statuses == {"source": "passed", "backup": "passed", "destroy": "passed", "restore": "failed",
                        "verify": "passed", "judge": "failed"}
    page = html.unescape((report_dir / "report.html").read_text())
    assert "Verdict: FAIL — failed at step 4 restore" in page
    assert "db-data Pending" in page
    junit = (report_dir / "junit.xml").read_text()
    assert 'failures="2"' in junit and 'errors="0"' in junit
    # StepFailed is a DRError, not an AssertionError: pytest still reports a failure naming it and its reason.
    assert ('<failure message="dr_lib.errors.StepFailed: restore-and-wait failed: PersistentVolumeClaim '
            'insightlearn-data/db-data Pending">') in junit
    assert "E   dr_lib.errors.StepFailed: restore-and-wait failed" in page
