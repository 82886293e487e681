"""`k3s-dr report index` over report directories built in a temp dir: passing, failing, tampered,
unreadable and hostile reports of every kind, read back into index.html and index.csv."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dr_lib.cli.main import main
from dr_lib.errors import ExitCode
from dr_lib.evidence.index import CSV_COLUMNS, csv_text, write_index
from dr_lib.evidence.reports import ReportEntry
from dr_lib.evidence.scan import scan
from dr_lib.reportdir import write_manifest

NOW = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
SHA = "ab" * 32


def drill_evidence(started: str, verdict: str = "pass", rto: float = 15.2, rpo: float = 2.1,
                   **extra: Any) -> dict[str, Any]:
    return {"format": "k3s-dr-drill-evidence", "format_version": 1, "kind": "synthetic", "started": started,
            "verdict": verdict, "failed_step": None if verdict == "pass" else "restore",
            "scope": {"limited": True, "limits": [{"id": "simulated-nodes"}]},
            "rto_seconds": rto, "rpo_seconds": rpo, "targets": {"rto_seconds": 900, "rpo_seconds": 3600},
            "backup": {"archive": "k3s-dr-20261128T120000Z.tar.gz", "sha256": SHA},
            "identity": {"kubernetes_version_source": "v1.34.2", "kubernetes_version_target": "v1.34.2"},
            "counts": {"backed_up": 186, "expected": 150, "equal": 150, "left-out": 36}, **extra}


def put_report(root: Path, name: str, document: Any, *, sealed: bool = True, raw: bytes | None = None) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "report.html").write_text("<html>report</html>")
    (directory / "evidence.json").write_bytes(raw if raw is not None else json.dumps(document).encode())
    if sealed:
        write_manifest(directory)
    return directory


def checks_results(verdicts: dict[str, str]) -> dict[str, Any]:
    """Today's format of dr_lib.checks.report.results_json, plus a field a later version may add."""
    results = [{"host": "docker://ref", "control": c, "severity": "high", "title": "t", "verdict": v,
                "evidence": "", "problem": "", "remediation": "", "why": "", "waiver": ""} for c, v in verdicts.items()]
    counts: dict[str, int] = {}
    for v in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    return {"results": results, "counts": counts, "hosts": ["docker://ref"], "format": "k3s-dr-checks-later",
            "started": "2026-11-30T13:00:00Z"}


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    put_report(root, "20261128T100000Z-aaaaaa", drill_evidence("2026-11-28T10:00:00.000Z"))
    put_report(root, "20261129T100000Z-bbbbbb", drill_evidence("2026-11-29T10:00:00.000Z", "fail", rto=0.0))
    tampered = put_report(root, "20261130T100000Z-cccccc", drill_evidence("2026-11-30T10:00:00.000Z", "fail"))
    (tampered / "evidence.json").write_text(json.dumps(drill_evidence("2026-11-30T10:00:00.000Z", "pass")))
    put_report(root, "20261130T120000Z-dddddd", None, raw=b"{not json")
    checks = root / "checks-20261130T130000Z"
    checks.mkdir()
    (checks / "checks.json").write_text(json.dumps(checks_results({"DR-ARCH-001": "pass", "DR-LINK-002": "fail"})))
    (checks / "report.html").write_text("<html>checks</html>")
    write_manifest(checks)
    boot = {"format": "k3s-dr-boot-drill-evidence", "format_version": 1, "started": "2026-11-30T14:00:00+00:00",
            "verdict": "pass", "boot_rto_seconds": 4.1, "host": {"name": "demo"},
            "backup": {"archive": "k3s-dr-boot.tar.gz", "sha256": SHA}, "boots": [{"verdict": "pass"}] * 3}
    (root / "boot-drill.json").write_text(json.dumps(boot))
    (root / "notes.json").write_text('{"just": "a file"}')  # not evidence: not a report
    return root


def _by_path(entries: list[ReportEntry]) -> dict[str, ReportEntry]:
    return {e.path: e for e in entries}


def test_each_report_is_listed_with_its_verdict_kind_and_seal(reports: Path) -> None:
    entries = _by_path(scan(reports))
    assert set(entries) == {"20261128T100000Z-aaaaaa", "20261129T100000Z-bbbbbb", "20261130T100000Z-cccccc",
                            "20261130T120000Z-dddddd", "checks-20261130T130000Z", "boot-drill.json"}
    passing, failing = entries["20261128T100000Z-aaaaaa"], entries["20261129T100000Z-bbbbbb"]
    assert (passing.kind, passing.verdict_text, passing.integrity) == ("synthetic", "pass (limited scope)", "verified")
    assert passing.rto_met is True and passing.rpo_met is True and passing.archive_sha256 == SHA
    assert (failing.verdict_text, failing.integrity) == ("fail", "verified")
    assert "failed at step restore" in failing.detail
    tampered = entries["20261130T100000Z-cccccc"]
    assert tampered.integrity == "tampered" and "evidence.json: sha256 mismatch" in tampered.integrity_detail
    assert tampered.verdict == "pass"  # what the edited file claims, shown, and flagged
    unreadable = entries["20261130T120000Z-dddddd"]
    assert unreadable.verdict_text == "unreadable" and "not valid JSON" in unreadable.problem
    assert unreadable.started == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # from its directory name
    checks = entries["checks-20261130T130000Z"]
    assert (checks.kind, checks.verdict, checks.integrity) == ("checks", "fail", "verified")
    assert checks.detail == "2 controls on 1 host(s): 1 fail, 1 pass"
    assert checks.requirements == ("ISO 27001 A.8.13", "NIST CP-9", "NIST CP-10")
    boot = entries["boot-drill.json"]
    assert (boot.kind, boot.verdict, boot.integrity, boot.rto_seconds) == ("boot", "pass", "unsealed", 4.1)


def test_index_files_are_written_and_the_csv_loads(reports: Path) -> None:
    result = write_index(reports, NOW)
    summary = result.to_json()
    assert summary["reports"] == 6 and summary["tampered"] == ["20261130T100000Z-cccccc"]
    assert summary["unreadable"] == ["20261130T120000Z-dddddd"]
    rows = list(csv.DictReader(io.StringIO((reports / "index.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 6
    by_report = {r["report"]: r for r in rows}
    assert by_report["20261128T100000Z-aaaaaa/report.html"]["verdict"] == "pass (limited scope)"
    assert by_report["20261128T100000Z-aaaaaa/report.html"]["date_utc"] == "2026-11-28T10:00:00Z"
    assert by_report["20261128T100000Z-aaaaaa/report.html"]["rto_met"] == "yes"
    assert by_report["20261130T100000Z-cccccc/report.html"]["integrity"] == "tampered"
    page = (reports / "index.html").read_text()
    assert "<script" not in page and page.count("<svg") == 2
    assert 'id="trend-rto"' in page and 'class="point point-synthetic tampered"' in page
    assert not [p.name for p in reports.iterdir() if p.name.startswith(".")]  # atomic writes leave nothing behind
    again = write_index(reports, NOW)  # the index's own files are not reports
    assert again.to_json()["reports"] == 6


HOSTILE_STRING = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.mark.parametrize(("name", "raw", "problem"), [
    ("deep", b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ("huge", b'{"a": "' + b"x" * (33 << 20) + b'"}', "larger than"),
    ("nan", b'{"format": "k3s-dr-drill-evidence", "rto_seconds": NaN}', "not valid JSON"),
    ("latin1", b'{"a": "\xe9"}', "not UTF-8"),
    ("list", b"[1, 2, 3]", "not evidence of a known kind"),
], ids=["deep", "huge", "nan", "latin1", "list"])
def test_hostile_evidence_is_listed_unreadable_not_a_crash(tmp_path: Path, name: str, raw: bytes,
                                                           problem: str) -> None:
    put_report(tmp_path, f"20261130T100000Z-{name}", None, raw=raw)
    (entry,) = scan(tmp_path)
    assert entry.verdict_text == "unreadable" and problem in entry.problem


def test_wrong_types_read_as_blanks(tmp_path: Path) -> None:
    evidence = drill_evidence("yesterday", verdict=["pass"], rto="fast", rpo=True,  # type: ignore[arg-type]
                              targets=[900], backup="a string", identity=None, counts=7, scope={"limited": "yes"})
    put_report(tmp_path, "20261130T100000Z-types", evidence)
    (entry,) = scan(tmp_path)
    assert (entry.verdict, entry.rto_seconds, entry.rpo_seconds, entry.rto_target_seconds) == ("unknown", None, None,
                                                                                                 None)
    assert entry.started == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # "yesterday" is no time: the directory's
    assert entry.limited_scope is False and entry.archive == "" and entry.detail == "failed at step restore"
    write_index(tmp_path, NOW)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def test_html_in_a_report_never_becomes_markup(tmp_path: Path) -> None:
    evidence = drill_evidence("2026-11-30T10:00:00Z", kind=HOSTILE_STRING, failed_step=HOSTILE_STRING,
                              backup={"archive": HOSTILE_STRING, "sha256": HOSTILE_STRING},
                              identity={"kubernetes_version_source": HOSTILE_STRING})
    put_report(tmp_path, "javascript:alert(3)", evidence)
    checks = checks_results({HOSTILE_STRING: "fail"})
    checks["counts"] = {HOSTILE_STRING: 1}
    (tmp_path / "checks-x").mkdir()
    (tmp_path / "checks-x" / "c.json").write_text(json.dumps(checks))
    write_index(tmp_path, NOW)
    page = (tmp_path / "index.html").read_text()
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "&lt;img src=x" in page
    assert all(href.startswith("./") and ":" not in href for href in parser.hrefs), parser.hrefs


def test_csv_cells_cannot_run_as_spreadsheet_formulas() -> None:
    entry = ReportEntry("=HYPERLINK(\"http://evil\")", kind="synthetic", archive="+cmd|' /C calc'!A0",
                        kubernetes_source="@SUM(1)", detail="-2+3")
    row = next(csv.DictReader(io.StringIO(csv_text([entry]))))
    assert row["report"].startswith("'=") and row["archive"].startswith("'+")
    assert row["kubernetes_source"].startswith("'@") and row["detail"].startswith("'-")


def test_links_and_unlisted_directories(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    put_report(outside, "20261130T100000Z-real", drill_evidence("2026-11-30T10:00:00Z"))
    root = tmp_path / "reports"
    root.mkdir()
    (root / "linked").symlink_to(outside / "20261130T100000Z-real")
    (root / "empty").mkdir()
    nested = root / "ci-run-17" / "artifacts"
    put_report(nested, "20261201T100000Z-deep", drill_evidence("2026-12-01T10:00:00Z"))
    boots = root / "boot-drills"
    boots.mkdir()
    for day in ("28", "29"):
        (boots / f"boot-202611{day}T100000Z.json").write_text(json.dumps(
            {"format": "k3s-dr-boot-drill-evidence", "started": f"2026-11-{day}T10:00:00Z", "verdict": "pass"}))
    entries = _by_path(scan(root))
    assert {"boot-drills/boot-20261128T100000Z.json", "boot-drills/boot-20261129T100000Z.json"} <= set(entries)
    assert "boot-drills" not in entries
    assert entries["linked"].problem == "a symbolic link: not followed"
    assert "no evidence.json" in entries["empty"].problem
    assert entries["ci-run-17/artifacts/20261201T100000Z-deep"].verdict == "pass"


def test_report_index_cli_prints_one_json_object(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "index", str(reports), "--json"]) == ExitCode.OK
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["reports"] == 6 and Path(result["index_html"]).is_file() and Path(result["index_csv"]).is_file()


def test_report_cli_refuses_a_missing_directory_and_verifies_one_report(
        reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "index", str(reports / "nope")]) == ExitCode.USAGE
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", "verify", str(reports / "20261128T100000Z-aaaaaa")]) == ExitCode.OK
    assert main(["report", "verify", str(reports / "20261130T100000Z-cccccc"), "--json"]) == ExitCode.INTEGRITY
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["status"] == "tampered"
    assert "evidence.json: sha256 mismatch" in captured.err
