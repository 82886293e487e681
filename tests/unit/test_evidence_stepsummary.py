"""`k3s-dr report summary`: the Markdown a CI job writes to its summary page, from real report
directories (the ones `report index` reads), including a failed, a tampered and a hostile one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dr_lib.cli.main import main
from dr_lib.evidence.stepsummary import cell, seconds_against
from tests.unit.test_evidence_index import drill_evidence, put_report


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["report", "summary", *args])
    return code, capsys.readouterr().out


def _table_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in rows[1:]]


def test_a_passing_drill_shows_verdict_rto_and_rpo_against_targets(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    put_report(tmp_path, "20261201T031700Z-abc123", drill_evidence("2026-12-01T03:17:00Z", rto=42.4, rpo=3.2))
    code, out = _run(capsys, str(tmp_path), "--markdown")
    assert code == 0
    assert out.startswith(f"### k3s-dr reports in {cell(str(tmp_path))}: all passed\n")
    [row] = _table_rows(out)
    assert row[2] == "pass \\(limited scope\\)"
    assert row[3] == "42 s \\(≤ 900 s\\) met" and row[4] == "3.2 s \\(≤ 3600 s\\) met"
    assert row[6] == "verified"


def test_failed_and_tampered_reports_are_called_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_report(tmp_path, "20261201T031700Z-good01", drill_evidence("2026-12-01T03:17:00Z"))
    put_report(tmp_path, "20261201T041700Z-fail01", drill_evidence("2026-12-01T04:17:00Z", verdict="fail",
                                                                     rto=1200.0))
    tampered = put_report(tmp_path, "20261201T051700Z-tamp01", drill_evidence("2026-12-01T05:17:00Z"))
    (tampered / "evidence.json").write_text(json.dumps(drill_evidence("2026-12-01T05:17:00Z", rto=1.0)))
    code, out = _run(capsys, str(tmp_path), "--markdown")
    assert code == 0, "the summary reads; the drill's own exit code fails the job"
    assert "2 of 3 did not pass" in out.splitlines()[0]
    rows = {r[0].split()[0]: r for r in _table_rows(out)}
    assert rows["20261201T041700Z-fail01"][2] == "FAIL"
    assert rows["20261201T041700Z-fail01"][3].endswith("MISSED")
    assert rows["20261201T051700Z-tamp01"][6] == "tampered"
    assert "failed at step restore" in out


def test_a_hostile_report_cannot_add_rows_links_or_markup(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "x |\n| injected | row |\n<img src=x onerror=alert(1)> [link](https://evil.example) " + "A" * 500
    put_report(tmp_path, "20261201T031700Z-evil01", drill_evidence("2026-12-01T03:17:00Z", backup={
        "archive": hostile, "sha256": "<b>" * 30}))
    code, out = _run(capsys, str(tmp_path), "--markdown")
    assert code == 0
    [row] = _table_rows(out)
    assert len(row) == 7, row
    assert not re.search(r"(?<!\\)[<\[]", out), "every < and [ escaped: no tag, no link"
    assert "\n| injected" not in out
    assert len(row[5]) < 2 * 130


def test_json_and_plain_forms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_report(tmp_path, "20261201T031700Z-abc123", drill_evidence("2026-12-01T03:17:00Z", rto=42.0))
    code, out = _run(capsys, str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 0 and data["overall"] == "all passed"
    assert data["reports"][0]["rto_seconds"] == 42.0 and data["reports"][0]["integrity"] == "verified"
    code, out = _run(capsys, str(tmp_path))
    assert code == 0 and "all passed" in out.splitlines()[0]


def test_an_empty_directory_says_so_and_a_missing_one_is_refused(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(tmp_path), "--markdown")
    assert code == 0 and "no report found" in out
    code, _out = _run(capsys, str(tmp_path / "missing"), "--markdown")
    assert code == 2


def test_seconds_against_targets() -> None:
    assert seconds_against(None, 900) == "–"
    assert seconds_against(901, 900) == "901 s (≤ 900 s) MISSED"
    assert seconds_against(2.25, None) == "2.2 s"
