"""The control catalogue: well-formed data, one verdict per control, docs rendered from it."""

from __future__ import annotations

import re
from pathlib import Path

from dr_lib.checks.catalogue import render_markdown
from dr_lib.checks.controls import BY_ID, CONTROLS, placeholders, remediation
from dr_lib.checks.model import Severity
from dr_lib.config import Config

ROOT = Path(__file__).resolve().parents[2]


def test_controls_are_well_formed() -> None:
    assert len(BY_ID) == len(CONTROLS)
    for control in CONTROLS:
        assert re.fullmatch(r"DR-[A-Z0-9]+-\d{3}", control.id), control.id
        assert isinstance(control.severity, Severity)
        assert control.title and len(control.why) > 40 and control.remediation, control.id


def test_every_control_has_its_own_verdict_in_the_verdicts_package() -> None:
    verdicts = [control.verdict for control in CONTROLS]
    assert len(set(verdicts)) == len(CONTROLS), "a verdict judges one control"
    for control in CONTROLS:
        assert control.verdict.__module__.startswith("dr_lib.checks.verdicts."), control.id
        assert control.reads and len(set(control.reads)) == len(control.reads), control.id


def test_remediation_names_the_hosts_own_paths() -> None:
    values = placeholders(Config(), "/etc/k3s-dr/config.yaml")
    for control in CONTROLS:
        filled = remediation(control, values)
        assert "{" not in filled, (control.id, filled)
    assert remediation(BY_ID["DR-BKP-001"], values).startswith("chmod 0700 /var/backups/k3s-cluster")


def test_docs_are_the_rendered_catalogue() -> None:
    assert (ROOT / "docs" / "checks.md").read_text() == render_markdown(), \
        "regenerate: python -m dr_lib.checks.catalogue > docs/checks.md"
