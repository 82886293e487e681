"""A drill run elsewhere (CI), recorded from its evidence file: hostile files are refused, field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dr_lib.drill import evidence as drill_evidence
from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.metrics import evidence
from dr_lib.metrics.evidence import drill_record, evidence_record

NOW = 1_800_000_000.0
FINISHED = "2027-01-15T07:59:00.123Z"  # NOW - 60 s


def good() -> dict:
    return {"format": "k3s-dr-drill-evidence", "format_version": 1, "drill_id": "a1b2c3", "verdict": "pass",
            "finished": FINISHED, "failed_step": None, "rto_seconds": 38.5, "rpo_seconds": 12.0,
            "targets": {"rto_seconds": 900, "rpo_seconds": 3600}}


def test_the_constants_are_the_drills_own():
    assert (evidence.EVIDENCE_FORMAT, evidence.EVIDENCE_VERSION) == (drill_evidence.FORMAT,
                                                                     drill_evidence.FORMAT_VERSION)


def test_a_good_evidence_file_becomes_the_drill_record(tmp_path):
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(good()))
    record = evidence_record(path, NOW)
    assert record.at == NOW - 60 and record.passed and record.drill_id == "a1b2c3"
    assert (record.rto_seconds, record.rpo_seconds) == (38.5, 12.0)
    assert (record.rto_target_seconds, record.rpo_target_seconds) == (900.0, 3600.0)
    assert record.source == "evidence.json"


def test_a_failed_drill_without_measurements(tmp_path):
    data = {**good(), "verdict": "fail", "failed_step": "restore", "rto_seconds": None, "rpo_seconds": None}
    record = drill_record(tmp_path / "e.json", data, NOW)
    assert not record.passed and record.failed_step == "restore" and record.rto_seconds is None


@pytest.mark.parametrize(("change", "named"), [
    ({"format": "k3s-dr-metrics-state"}, "format"),
    ({"format_version": 2}, "version"),
    ({"verdict": "PASS"}, "verdict"),
    ({"verdict": ["pass"]}, "verdict"),
    ({"drill_id": "../../etc"}, "drill_id"),
    ({"drill_id": "x" * 200}, "drill_id"),
    ({"finished": "2027-01-15 07:59:00"}, "finished"),
    ({"finished": 1800000000}, "finished"),
    ({"finished": "2099-01-01T00:00:00Z"}, "future"),
    ({"rto_seconds": -1}, "rto_seconds"),
    ({"rto_seconds": "38"}, "rto_seconds"),
    ({"rto_seconds": True}, "rto_seconds"),
    ({"rpo_seconds": 1e400}, "rpo_seconds"),  # json reads it as inf
    ({"targets": [900, 3600]}, "targets"),
    ({"targets": {"rto_seconds": float("nan"), "rpo_seconds": 1}}, "rto_seconds"),
    ({"failed_step": {"x": 1}}, "failed_step"),
])
def test_hostile_fields_are_refused_by_name(tmp_path, change, named):
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({**good(), **change}).replace("NaN", "NaN"))
    with pytest.raises(UsageError) as caught:
        evidence_record(path, NOW)
    assert named in caught.value.message and str(path) in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("content", [b"", b"\xff\xfe not utf-8", b"[1, 2]", b"{" * 100_000, b'"evidence"'])
def test_files_that_are_not_evidence_are_refused(tmp_path, content):
    path = tmp_path / "evidence.json"
    path.write_bytes(content)
    with pytest.raises(UsageError):
        evidence_record(path, NOW)


def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_EVIDENCE_BYTES", 1024)
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({**good(), "padding": "x" * 4096}))
    with pytest.raises(UsageError, match="larger than"):
        evidence_record(path, NOW)


def test_a_missing_file_is_an_environment_problem(tmp_path):
    with pytest.raises(EnvironmentProblem, match="cannot read the drill evidence"):
        evidence_record(tmp_path / "absent.json", NOW)


def test_long_failed_step_is_cut(tmp_path):
    record = drill_record(Path("e.json"), {**good(), "verdict": "fail", "failed_step": "s" * 5000}, NOW)
    assert len(record.failed_step) == 200
