"""The report directory: never reused, written atomically, sealed with a checkable manifest."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dr_lib.drill.redact import Scrubber
from dr_lib.drill.reportdir import (
    check_manifest,
    create_report_dir,
    report_dir_name,
    scrub_directory,
    write_file,
    write_manifest,
)
from dr_lib.errors import EnvironmentProblem

STARTED = datetime(2026, 11, 28, 18, 15, 3, tzinfo=UTC)


def test_name_is_utc_time_and_id() -> None:
    assert report_dir_name(STARTED, "ab12cd") == "20261128T181503Z-ab12cd"


def test_a_report_directory_is_never_reused(tmp_path: Path) -> None:
    first = create_report_dir(tmp_path / "reports", STARTED, "ab12cd")
    write_file(first / "evidence.json", "{}")
    with pytest.raises(EnvironmentProblem, match="never overwrites"):
        create_report_dir(tmp_path / "reports", STARTED, "ab12cd")
    assert (first / "evidence.json").read_text() == "{}"


def test_write_file_leaves_no_temporary(tmp_path: Path) -> None:
    write_file(tmp_path / "a.txt", "one")
    write_file(tmp_path / "a.txt", b"two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and (tmp_path / "a.txt").read_text() == "two"


def test_manifest_is_sha256sum_compatible_and_detects_tampering(tmp_path: Path) -> None:
    write_file(tmp_path / "report.html", "<html></html>")
    write_file(tmp_path / "evidence.json", "{}")
    write_manifest(tmp_path)
    assert check_manifest(tmp_path) == []
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout
    (tmp_path / "evidence.json").write_text('{"verdict": "pass"}')
    (tmp_path / "extra.txt").write_text("added later")
    assert check_manifest(tmp_path) == ["evidence.json: sha256 mismatch", "extra.txt: not in SHA256SUMS"]


def test_scrub_directory_removes_secret_values_from_text_files(tmp_path: Path) -> None:
    write_file(tmp_path / "junit.xml", "<x>password=drill-secret-value</x>")
    write_file(tmp_path / "report.png", b"\x89PNG drill-secret-value")
    assert scrub_directory(tmp_path, Scrubber.of(["drill-secret-value"])) == 1
    assert "drill-secret-value" not in (tmp_path / "junit.xml").read_text()
