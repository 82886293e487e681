"""The framework references are data: every key real, every requirement known, every row with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr_lib.checks.controls import BY_ID
from dr_lib.drill.timeline import STEP_NAMES
from dr_lib.evidence.control_frameworks import (
    CONTROL_REFERENCES,
    control_references,
    references_html,
    references_json,
)
from dr_lib.evidence.frameworks import (
    BOOT_DRILL_REFERENCES,
    DRILL_STEP_REFERENCES,
    REQUIREMENTS,
    Reference,
    drill_references,
    requirement_ids,
)

ASKED_FOR = {"ISO 27001 A.8.13", "ISO 27001 A.5.30", "SOC 2 A1.2", "SOC 2 A1.3", "NIST CP-4", "NIST CP-9",
             "NIST CP-10"}


def test_the_requirements_auditors_test_against_are_all_there() -> None:
    assert set(REQUIREMENTS) == ASKED_FOR
    assert {r.clause for r in REQUIREMENTS.values()} == {"A.8.13", "A.5.30", "A1.2", "A1.3", "CP-4", "CP-9", "CP-10"}


def test_every_control_key_is_a_real_control_id() -> None:
    assert set(CONTROL_REFERENCES) <= set(BY_ID), set(CONTROL_REFERENCES) - set(BY_ID)


def test_every_control_carries_a_reference() -> None:
    assert set(BY_ID) <= set(CONTROL_REFERENCES), set(BY_ID) - set(CONTROL_REFERENCES)


def test_drill_references_are_keyed_by_the_drills_steps() -> None:
    assert tuple(DRILL_STEP_REFERENCES) == STEP_NAMES


@pytest.mark.parametrize("references", [
    [ref for refs in CONTROL_REFERENCES.values() for ref in refs],
    [ref for _step, ref in drill_references()],
    list(BOOT_DRILL_REFERENCES),
], ids=["controls", "drill steps", "boot drill"])
def test_every_row_names_a_known_requirement_and_says_why(references: list[Reference]) -> None:
    for ref in references:
        assert ref.requirement in REQUIREMENTS
        assert len(ref.reason) > 20, ref


def test_the_drill_supports_every_requirement_but_no_control_is_left_out() -> None:
    assert requirement_ids(ref for _step, ref in drill_references()) == tuple(REQUIREMENTS)
    rows = control_references(["DR-ARCH-001", "DR-NOPE-999"])
    assert {control for control, _ref in rows} == {"DR-ARCH-001"}
    assert rows[0][1].to_json()["clause"] == "CP-9"


def test_the_docs_list_every_requirement_as_the_data_names_it() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "evidence.md").read_text()
    for item in REQUIREMENTS.values():
        assert f"| {item.id} | {item.framework} {item.clause} {item.title} |" in page, item.id


def test_what_a_check_report_carries() -> None:
    assert references_json(["DR-OFFSITE-002"]) == [{
        "control": "DR-OFFSITE-002", "requirement": "NIST CP-9", "framework": "NIST SP 800-53 Rev. 5",
        "clause": "CP-9", "title": "System backup",
        "reason": "CP-9 asks that backup information be protected (confidentiality): offsite copies are encrypted"}]
    page = references_html(["DR-OFFSITE-002", "<script>"])
    assert page.startswith("<h3>Framework references</h3><table id=\"checks-frameworks\">") and "<script>" not in page
    assert references_html([]) == ""
